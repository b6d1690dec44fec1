"""billing-svc figures (DESIGN.md §8, P4 and B6), each against a baseline in the same run.

1. Invoicing: N contract activations applied by the real handler code path (charge, prorata,
   draft, numbering, outbox row, Stripe job), one transaction each, from 20 connections.
   Baseline: N bare transactions doing one INSERT each from the same 20 connections.
2. Numbering (B6): N drafts finalised concurrently on one series (the counter row is locked
   until commit). Baseline: N transactions that only bump a counter row.
3. Reads (P4): GET /v1/invoices?client_id= at 200 concurrent connections against billing-svc
   running as its own process; baseline: GET /healthz of the same process. p50/p99.

Each run invoices and numbers a fresh batch (numbering on its own series year) and restarts
the service. The contracts-svc comparison against bare FastAPI (P4's target) is bench/api.py.

Usage: python bench/billing.py [--contracts 2000] [--requests 4000] [--concurrency 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

import asyncpg
import httpx
from _runs import Runs, Target, add_runs_argument
from prisme_billing import service
from prisme_billing.app import spec
from prisme_chassis.db import create_pool, migrate_service
from prisme_chassis.keys import generate_keypair, mint_token
from prisme_events import ContractActivated
from prisme_localinfra import NatsServer, PostgresServer
from prisme_testing import factories
from prisme_testing.runner import ServiceProcess


def activation(client_id: uuid.UUID, postes: int, start: date) -> ContractActivated:
    return factories.contract_activated(
        client=factories.client_snapshot(client_id, name="Cabinet bench", city="Saint-Denis"),
        includes=[],
        start=start,
        postes=postes,
        peripherals=0,
    )


async def in_parallel(n: int, workers: int, job: Callable[[int], Awaitable[None]]) -> float:
    queue = iter(range(n))

    async def worker() -> None:
        for i in queue:
            await job(i)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - start


async def invoicing(pool: asyncpg.Pool, n: int, clients: list[uuid.UUID]) -> dict[str, float]:
    await pool.execute("DROP TABLE IF EXISTS bench_baseline")
    await pool.execute("CREATE TABLE bench_baseline (id uuid PRIMARY KEY, v int)")

    async def baseline(i: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO bench_baseline VALUES ($1, $2)", uuid.uuid4(), i)

    async def real(i: int) -> None:
        ev = activation(clients[i % len(clients)], 1 + i % 15, date(2026, 1, 1 + i % 28))
        async with pool.acquire() as conn, conn.transaction():
            await service.contract_activated(conn, ev)  # type: ignore[arg-type]

    base = await in_parallel(n, 20, baseline)
    took = await in_parallel(n, 20, real)
    count = await pool.fetchval("SELECT count(*) FROM documents WHERE status = 'open'")
    print(
        f"invoicing: {n / took:8.0f} activations/s invoiced ({count} invoices) | "
        f"baseline bare INSERT transactions {n / base:8.0f}/s | ratio {base / took:.2f}"
    )
    return {"invoicing_per_s": n / took, "invoicing_ratio": base / took}


async def numbering(
    pool: asyncpg.Pool, n: int, client_id: uuid.UUID, year: int
) -> dict[str, float]:
    from prisme_billing import domain

    charge = domain.activation_charge(domain.PRISME_DEFAULT, 6, date(2026, 1, 1))
    drafts = []
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(n):
            doc_id, _ = await service.create_draft_invoice(
                conn, uuid.uuid4(), client_id, [charge], 1
            )  # type: ignore[arg-type]
            drafts.append(doc_id)
    await pool.execute(
        "DROP TABLE IF EXISTS bench_counter; "
        "CREATE TABLE bench_counter (k int PRIMARY KEY, v int); INSERT INTO bench_counter VALUES (1, 0)"
    )

    async def baseline(i: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("UPDATE bench_counter SET v = v + 1 WHERE k = 1")

    async def real(i: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await service.finalise(conn, drafts[i], "invoice", date(year, 1, 1))  # type: ignore[arg-type]

    base = await in_parallel(n, 20, baseline)
    took = await in_parallel(n, 20, real)
    seqs = [
        r["sequence"]
        for r in await pool.fetch(
            "SELECT sequence FROM documents WHERE series_year = $1 ORDER BY sequence", year
        )
    ]
    gapless = seqs == list(range(1, n + 1))
    print(
        f"numbering: {n / took:8.0f} finalisations/s, gapless={gapless} | "
        f"baseline counter bump {n / base:8.0f}/s | ratio {base / took:.2f}"
    )
    return {"numbering_per_s": n / took, "numbering_ratio": base / took, "gapless": float(gapless)}


async def latencies(
    url: str, paths: list[str], headers: dict[str, str], total: int, conc: int
) -> list[float]:
    out: list[float] = []
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=30
    ) as client:
        sem = asyncio.Semaphore(conc)

        async def one(i: int) -> None:
            async with sem:
                t = time.perf_counter()
                r = await client.get(paths[i % len(paths)])
                out.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text

        await asyncio.gather(*(one(i) for i in range(total)))
    return sorted(out)


WRK_SCRIPT = """
paths = {%s}
i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["Authorization"] = "%s"})
end
"""


def wrk_latency(
    url: str, paths: list[str], auth: str, conns: int, seconds: int = 10
) -> tuple[str, float]:
    """p50/p99 measured by wrk (a C load generator: the Python client above saturates first)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % (", ".join(f'"{p}"' for p in paths), auth))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", f.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    rps = re.search(r"Requests/sec:\s+(\S+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    line = f"p50 {lat.get('50')} p99 {lat.get('99')} {rps.group(1) if rps else '?'} req/s" + (
        f" NON-2XX {non2xx.group(1)}" if non2xx else ""
    )
    return line, float(rps.group(1)) if rps and not non2xx else float("nan")


def pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


TARGETS = [Target("gapless", "B6 numbering gapless under concurrency", at_least=1, unit="")]


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contracts", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=200)
    add_runs_argument(ap)
    args = ap.parse_args()
    runs = Runs("billing-svc (B6, reads)", TARGETS, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        pg = PostgresServer(Path(tmp) / "pg", durable=False)
        nats_server = NatsServer(Path(tmp) / "nats")
        pg.start()
        nats_server.start()
        try:
            dsn = pg.create_database("billing_bench")
            pool = await create_pool(dsn, max_size=20)
            await migrate_service(pool, spec.name, spec.migrations)
            clients = [uuid.uuid4() for _ in range(max(1, args.contracts // 4))]
            private, public = generate_keypair()
            svc = ServiceProcess(
                "prisme_billing",
                {
                    "PRISME_ENV": "test",
                    "PRISME_BILLING_DATABASE_URL": dsn,
                    "PRISME_NATS_URL": nats_server.url,
                    "PRISME_JWT_PUBLIC_KEY": public,
                    "PRISME_DATA_DIR": str(Path(tmp) / "data"),
                    "PRISME_BILLING_STRIPE_ENABLED": "false",
                    "PRISME_LOG_LEVEL": "WARNING",
                },
            )
            headers = {
                "Authorization": f"Bearer {mint_token(private, sub='bench', scopes=['admin'])}"
            }
            for i in runs:
                figures = await invoicing(pool, args.contracts, clients)
                figures |= await numbering(pool, args.contracts // 2, clients[0], 2031 + i)
                svc.start()
                try:
                    await svc.wait_ready()
                    paths = [
                        f"/v1/invoices?client_id={c}"
                        for c in random.sample(clients, min(200, len(clients)))
                    ]
                    await latencies(svc.url, paths, headers, 400, 20)  # warm-up
                    base = await latencies(
                        svc.url, ["/healthz"], headers, args.requests, args.concurrency
                    )
                    real = await latencies(svc.url, paths, headers, args.requests, args.concurrency)
                    if shutil.which("wrk"):
                        auth = headers["Authorization"]
                        base_w, base_rps = await asyncio.to_thread(
                            wrk_latency, svc.url, ["/healthz"], auth, args.concurrency
                        )
                        real_w, real_rps = await asyncio.to_thread(
                            wrk_latency, svc.url, paths, auth, args.concurrency
                        )
                        print(
                            f"P4 wrk @ {args.concurrency} conns: GET /v1/invoices {real_w} | baseline /healthz {base_w}"
                        )
                        figures["reads_rps"] = real_rps
                        figures["reads_vs_healthz"] = real_rps / base_rps
                    print(
                        f"reads @ {args.concurrency} conns: GET /v1/invoices p50 {pct(real, 0.5):6.1f} ms "
                        f"p99 {pct(real, 0.99):6.1f} ms mean {statistics.mean(real) * 1000:6.1f} ms | "
                        f"baseline /healthz p50 {pct(base, 0.5):6.1f} ms p99 {pct(base, 0.99):6.1f} ms"
                    )
                    figures["reads_p99_ms"] = pct(real, 0.99)
                finally:
                    svc.terminate()
                runs.record(figures)
            await pool.close()
        finally:
            nats_server.stop()
            pg.stop(mode="immediate")
    return runs.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
