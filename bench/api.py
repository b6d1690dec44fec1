"""P4 (DESIGN.md §8): an authenticated list read through the chassis against bare FastAPI.

1. Embedded PostgreSQL and nats-server; contracts-svc as its own process (``python -m
   prisme_contracts``, production middlewares, telemetry and token verification); ``--clients``
   practices created through ``POST /v1/clients``.
2. The baseline: a bare FastAPI app (``bench/_bare.py``, same uvicorn settings, no chassis)
   answering the exact bytes of ``GET /v1/clients?limit=50`` from memory, as its own process.
3. Each run: ``wrk`` with 200 connections for ``--seconds`` on both (who goes first
   alternates); the ratio of requests/s. Then ``hey`` open loop at ``--rate`` requests/s
   offered (``-q`` per worker) on contracts-svc alone: p50/p99 of every request.

Targets: throughput ≥ 0.25× bare; p99 < 50 ms at 500 req/s offered; in the worst of ``--runs``.
Profile a run with py-spy (``py-spy record --pid <contracts-svc>``) to see where the time goes.

Usage: python bench/api.py [--clients 200] [--connections 200] [--seconds 10] [--rate 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from _runs import Runs, Target, add_runs_argument
from prisme_chassis.keys import generate_keypair, mint_token
from prisme_localinfra import NatsServer, PostgresServer, free_port, wait_for_port
from prisme_testing.runner import ServiceProcess

PATH = "/v1/clients?limit=50"
TARGETS = [
    Target("ratio", "P4 contracts GET /v1/clients / bare FastAPI, 200 conns", at_least=0.25),
    Target("p99_ms", "P4 contracts p99 at 500 req/s offered", below=50, unit="ms"),
]


def wrk(
    url: str, auth: str, connections: int, seconds: int, pid: int | None = None
) -> tuple[float, float, float, float]:
    """(requests/s, p50 ms, p99 ms, CPU µs of process ``pid`` per request); fails on any
    non-2xx answer. The CPU per request is the figure least disturbed by a busy machine."""
    cpu0 = _cpu(pid)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-H", f"Authorization: {auth}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out:
        raise SystemExit(f"non-2xx answers from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if set(lat) != {"50", "99"}:
        raise SystemExit(f"no latency distribution from wrk:\n{out}")
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, _ms(lat["50"]), _ms(lat["99"]), (_cpu(pid) - cpu0) * 1e6 / max(count, 1)


def _cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def hey(url: str, auth: str, rate: int, seconds: int) -> tuple[float, float, float]:
    """Open loop: 50 workers each limited to rate/50 req/s. (achieved req/s, p50, p99 ms)."""
    workers = 50
    out = subprocess.run(
        ["hey", "-z", f"{seconds}s", "-c", str(workers), "-q", f"{rate / workers:g}",
         "-H", f"Authorization: {auth}", url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    codes = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    if set(codes) != {"200"}:
        raise SystemExit(f"hey got {codes} from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)% in (\S+) secs$", out, re.MULTILINE))
    return rps, float(lat["50"]) * 1000, float(lat["99"]) * 1000


def siren(i: int) -> str:
    """A valid SIREN: 8 digits and the Luhn check digit."""
    base = f"{10_000_000 + i:08d}"
    for check in "0123456789":
        digits = [int(c) for c in base + check]
        total = sum(d if k % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                    for k, d in enumerate(digits))  # fmt: skip
        if total % 10 == 0:
            return base + check
    raise AssertionError("unreachable")


async def seed(url: str, auth: str, n: int) -> bytes:
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": auth}) as api:
        for i in range(n):
            r = await api.post(
                "/v1/clients",
                json={
                    "name": f"Cabinet médical n°{i}",
                    "siren": siren(i),
                    "manager": {
                        "name": f"Dr Hoarau {i}",
                        "email": f"cabinet{i}@example.re",
                        "phone": "0262123456",
                    },
                    "address": {
                        "line1": f"{i} rue de Paris",
                        "postal_code": "97400",
                        "city": "Saint-Denis",
                    },
                },
            )
            r.raise_for_status()
        r = await api.get(PATH)
        r.raise_for_status()
        assert len(r.json()["items"]) == min(50, n)
        return r.content


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rate", type=int, default=500)
    add_runs_argument(ap)
    args = ap.parse_args()
    runs = Runs("P4 authenticated list reads", TARGETS, args.runs)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        root = Path(tmp)
        pg = PostgresServer(root / "pg", durable=False)
        ns = NatsServer(root / "nats")
        pg.start()
        ns.start()
        bare: subprocess.Popen[bytes] | None = None
        private, public = generate_keypair()
        svc = ServiceProcess(
            "prisme_contracts",
            {
                "PRISME_ENV": "test",
                "PRISME_NATS_URL": ns.url,
                "PRISME_JWT_PUBLIC_KEY": public,
                "PRISME_LOG_LEVEL": "WARNING",
                "PRISME_DATA_DIR": str(root / "data"),
                "PRISME_CONTRACTS_DATABASE_URL": pg.create_database("contracts"),
            },
            log_file=root / "contracts.log",
        )
        try:
            svc.start()
            asyncio.run(svc.wait_ready(60))
            token = mint_token(
                private, sub="op-bench", scopes=["contracts:read", "contracts:write"]
            )
            auth = f"Bearer {token}"
            body = asyncio.run(seed(svc.url, auth, args.clients))
            (root / "body.json").write_bytes(body)
            port = free_port()
            bare = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("_bare.py")),
                 str(port), str(root / "body.json")],
                env=os.environ.copy(),
            )  # fmt: skip
            wait_for_port(port)
            bare_url = f"http://127.0.0.1:{port}{PATH}"
            real_url = f"{svc.url}{PATH}"
            assert httpx.get(bare_url).content == body
            assert svc.proc is not None
            svc_pid = svc.proc.pid
            print(f"body: {len(body):,} bytes; contracts-svc pid {svc_pid}")
            wrk(real_url, auth, args.connections, 2)  # warm-up
            wrk(bare_url, auth, args.connections, 2)
            for i in runs:
                order = [("bare", bare_url, bare.pid), ("real", real_url, svc_pid)]
                rps: dict[str, tuple[float, float, float, float]] = {}
                for name, url, pid in order if i % 2 == 0 else order[::-1]:
                    rps[name] = wrk(url, auth, args.connections, args.seconds, pid)
                    time.sleep(1)
                achieved, p50, p99 = hey(real_url, auth, args.rate, args.seconds)
                print(
                    f"  wrk {args.connections} conns: bare {rps['bare'][0]:,.0f} req/s "
                    f"(p99 {rps['bare'][2]:.0f} ms), contracts-svc {rps['real'][0]:,.0f} req/s "
                    f"(p50 {rps['real'][1]:.0f} ms, p99 {rps['real'][2]:.0f} ms); CPU per request "
                    f"{rps['bare'][3]:.0f} µs bare, {rps['real'][3]:.0f} µs contracts-svc; "
                    f"hey {args.rate}/s offered: {achieved:.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                )
                runs.record(
                    {
                        "bare_rps": rps["bare"][0],
                        "real_rps": rps["real"][0],
                        "ratio": rps["real"][0] / rps["bare"][0],
                        "wrk_p99_ms": rps["real"][2],
                        "bare_cpu_us_per_req": rps["bare"][3],
                        "real_cpu_us_per_req": rps["real"][3],
                        "open_loop_rps": achieved,
                        "p50_ms": p50,
                        "p99_ms": p99,
                    }
                )
        finally:
            if bare is not None:
                bare.terminate()
                bare.wait(10)
            if svc.proc is not None:
                svc.terminate()
            ns.stop()
            pg.stop(mode="immediate")
    return runs.finish()


if __name__ == "__main__":
    sys.exit(main())
