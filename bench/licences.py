"""licence-svc's share of P2 (DESIGN.md §8): revocation throughput against the Graph sandbox.

Runs real processes: PostgreSQL and nats-server (prisme_localinfra), the Graph sandbox
(``python -m prisme_graph_sandbox``) and licence-svc (``python -m prisme_licence``). It
provisions N contracts × 5 users through contract.activated (the real path, timed too), then
publishes contract.ended for every contract at once and times until every account is revoked
(disabled, sessions revoked, unlicensed, soft-deleted) in the sandbox and in the database.

Prints the figures and extrapolates linearly to 10,000 contracts × 5 users. The machine is
shared (2 cores for the database, NATS, the sandbox, the service and this script), so the
numbers are a floor for this box, not a capacity statement for production Graph, whose own
throttling (per tenant and per app) then dominates.

Usage: python bench/licences.py [--contracts 400] [--tenants 1] [--latency-ms 0] [--throttle 0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import nats
from _runs import Runs, Target, add_runs_argument
from prisme_chassis.bus import ensure_stream
from prisme_chassis.keys import generate_keypair, mint_token
from prisme_events import (
    ContractActivated,
    ContractEnded,
    ContractUser,
    cloudevent_headers,
    encode,
    stream_for,
)
from prisme_localinfra import NatsServer, PostgresServer, free_port
from prisme_testing import factories

INCLUDES = ["microsoft_365", "preventive_maintenance", "hds_backup_1tb"]


def _activation(i: int) -> ContractActivated:
    client_id = uuid.uuid4()
    users = [
        ContractUser(
            user_id=uuid.uuid4(),
            first_name=f"Prénom{u}",
            last_name=f"Nom{i}",
            email=f"u{u}.{i}@x.re",
            role="employee",
        )
        for u in range(5)
    ]
    return factories.contract_activated(
        client=factories.client_snapshot(client_id, name=f"Cabinet {i}", siren="123456789"),
        includes=INCLUDES,
        start=date(2026, 1, 1),
        postes=3,
        peripherals=1,
        users=users,
    )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ended(a: ContractActivated) -> ContractEnded:
    return factories.contract_ended(a, version=3, ended_at=datetime(2026, 12, 31, 20, tzinfo=UTC))


async def _publish(url: str, events: list) -> float:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js, stream_for(events[0].subject))
    start = time.perf_counter()
    futures = [
        await js.publish_async(e.subject, encode(e), headers=cloudevent_headers(e)) for e in events
    ]
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - start
    await nc.close()
    return elapsed


async def _wait(
    dsn: str,
    status: str,
    total: int,
    label: str,
    timeout: float,
    marks: dict[str, float],
    samples: Counter[str] | None = None,
) -> float:
    """Seconds until ``total`` accounts have ``status``; ``marks`` gets when every job was queued."""
    conn = await asyncpg.connect(dsn)
    start = time.perf_counter()
    last_print = 0.0
    kind = "provision" if status == "active" else "revoke"
    try:
        while True:
            n = await conn.fetchval("SELECT count(*) FROM accounts WHERE status = $1", status)
            now = time.perf_counter() - start
            if samples is not None:
                for r in await conn.fetch(
                    """SELECT state, coalesce(wait_event, 'cpu') AS w, left(query, 70) AS q
                       FROM pg_stat_activity WHERE datname = current_database()
                       AND pid <> pg_backend_pid() AND state <> 'idle'"""
                ):
                    samples[f"{r['state']:<20} {r['w']:<18} {r['q']}"] += 1
            if kind not in marks:
                queued = await conn.fetchval(
                    "SELECT count(*) FROM job_queue WHERE kind = $1", f"licence.graph_{kind}"
                )
                if queued >= total:
                    marks[kind] = now
            if n >= total:
                return now
            if now - last_print >= 5:
                print(f"  {label}: {n}/{total} after {now:.1f}s", flush=True)
                last_print = now
            if now > timeout:
                raise TimeoutError(f"{label}: only {n}/{total} after {timeout}s")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-licences-"))
    pg = PostgresServer(tmp / "pg", durable=True)
    ns = NatsServer(tmp / "nats")
    pg.start()
    ns.start()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        dsn = pg.create_database("licence")
        private, public = generate_keypair()
        gport, lport = free_port(), free_port()
        procs.append(
            subprocess.Popen(  # noqa: ASYNC220 - started once, before the measured part
                [
                    sys.executable,
                    "-m",
                    "prisme_graph_sandbox",
                    "--port",
                    str(gport),
                    "--seats",
                    "1000000",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        env = {
            **os.environ,
            "PRISME_ENV": "test",
            "PRISME_NATS_URL": ns.url,
            "PRISME_JWT_PUBLIC_KEY": public,
            "PRISME_DATA_DIR": str(tmp / "data"),
            "PRISME_HTTP_PORT": str(lport),
            "PRISME_LOG_LEVEL": "WARNING",
            "PRISME_LICENCE_DATABASE_URL": dsn,
            "PRISME_LICENCE_GRAPH_BASE_URL": f"http://127.0.0.1:{gport}/v1.0",
            "PRISME_LICENCE_GRAPH_TOKEN_URL": f"http://127.0.0.1:{gport}"
            + "/{tenant}/oauth2/v2.0/token",
            "PRISME_LICENCE_PER_TENANT_CONCURRENCY": str(args.per_tenant),
            "PRISME_LICENCE_MAX_CONCURRENT_BATCHES": str(args.max_batches),
        }
        procs.append(
            subprocess.Popen(  # noqa: ASYNC220 - started once, before the measured part
                [sys.executable, "-m", "prisme_licence"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=sys.stderr,
            )
        )
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                try:
                    ok = (await http.get(f"http://127.0.0.1:{lport}/readyz")).status_code == 200
                    ok = (
                        ok
                        and (await http.get(f"http://127.0.0.1:{gport}/healthz")).status_code == 200
                    )
                    if ok:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            await http.post(
                f"http://127.0.0.1:{gport}/_sandbox/faults",
                json={
                    "latency_ms": args.latency_ms,
                    "throttle_fraction": args.throttle,
                    "retry_after_seconds": 1,
                },
            )

            activations = [_activation(i) for i in range(args.contracts)]
            if (
                args.tenants > 1
            ):  # map practices onto several Graph tenants (per-tenant concurrency)
                token = mint_token(private, sub="bench", scopes=["admin"])
                for i, a in enumerate(activations):
                    r = await http.put(
                        f"http://127.0.0.1:{lport}/v1/tenants/{a.client_id}",
                        json={
                            "graph_tenant": f"tenant-{i % args.tenants}",
                            "domain": f"t{i % args.tenants}.re",
                        },
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    r.raise_for_status()
            total = args.contracts * 5
            print(
                f"licence bench: {args.contracts} contracts x 5 users = {total} accounts, "
                f"{args.tenants} tenant(s), per-tenant concurrency {args.per_tenant}, sandbox latency {args.latency_ms} ms, "
                f"throttle {args.throttle:.0%}",
                flush=True,
            )
            await _publish(ns.url, activations)
            marks: dict[str, float] = {}
            t_prov = await _wait(dsn, "active", total, "provisioned", args.timeout, marks)
            before = (
                await http.get(
                    f"http://127.0.0.1:{gport}/_sandbox/state", params={"tenant": "none"}
                )
            ).json()["counters"]

            cpu_before = [_cpu_seconds(p.pid) for p in procs]
            await _publish(ns.url, [_ended(a) for a in activations])
            samples: Counter[str] | None = Counter() if args.sample else None
            t_rev = await _wait(dsn, "revoked", total, "revoked", args.timeout, marks, samples)
            cpu = [_cpu_seconds(p.pid) - b for p, b in zip(procs, cpu_before, strict=True)]
            after = (
                await http.get(
                    f"http://127.0.0.1:{gport}/_sandbox/state", params={"tenant": "none"}
                )
            ).json()["counters"]

        reqs = after["requests"] - before["requests"]
        batches = after["batches"] - before["batches"]
        print()
        print(
            f"provisioning : {total} accounts in {t_prov:6.1f} s -> {total / t_prov:7.1f} accounts/s"
        )
        print(
            f"revocation   : {total} accounts in {t_rev:6.1f} s -> {total / t_rev:7.1f} accounts/s"
        )
        print(
            f"               {reqs} Graph operations in {batches} $batch calls "
            f"({reqs / max(batches, 1):.1f} per batch, {reqs / t_rev:.0f} ops/s)"
        )
        print(
            f"events consumed: every provision job queued after {marks.get('provision', -1):.1f} s, "
            f"every revoke job after {marks.get('revoke', -1):.1f} s (contract.* handlers)"
        )
        print(
            f"CPU during revocation: sandbox {cpu[0]:.1f} s, licence-svc {cpu[1]:.1f} s "
            f"(PostgreSQL and NATS not counted) over {t_rev:.1f} s wall on {os.cpu_count()} cores"
        )
        if samples:
            print("busiest PostgreSQL sessions during revocation (samples, state, wait, query):")
            for key, n in samples.most_common(8):
                print(f"  {n:4d} {key}")
        target = 10_000 * 5
        print(
            f"extrapolated : 10,000 contracts x 5 users = {target} accounts -> "
            f"{target / (total / t_rev):,.0f} s ({target / (total / t_rev) / 60:.1f} min) for revocation on this box"
        )
        print(
            f"P2 budget    : 60 s -> needs {target / 60:,.0f} accounts/s; measured {total / t_rev:.0f}/s "
            f"({'meets' if total / t_rev >= target / 60 else 'misses'} it)"
        )
        return {
            "provision_per_s": total / t_prov,
            "revocation_per_s": total / t_rev,
            "revocation_at_10k_s": target / (total / t_rev),
        }
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        ns.stop()
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


TARGETS = [
    Target(
        "revocation_at_10k_s",
        "P2 licence-svc revocation of 50,000 accounts (extrapolated)",
        below=30,
        unit="s",
    )
]


async def repeat(args: argparse.Namespace) -> int:
    runs = Runs(f"P2 licence-svc, {args.contracts} contracts", TARGETS, args.runs)
    for _ in runs:
        runs.record(await main(args))
    return runs.finish()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=400)
    parser.add_argument("--tenants", type=int, default=1)
    parser.add_argument("--per-tenant", type=int, default=4)
    parser.add_argument("--max-batches", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--throttle", type=float, default=0.0)
    parser.add_argument("--sample", action="store_true", help="sample pg_stat_activity")
    parser.add_argument("--timeout", type=float, default=900.0)
    add_runs_argument(parser)
    sys.exit(asyncio.run(repeat(parser.parse_args())))
