"""P2, contracts-svc's share (DESIGN.md §8): one ``POST /v1/year-end`` over N active contracts.

In one run, on a fresh embedded PostgreSQL and nats-server:

1. Baselines: (a) the raw cost of writing N outbox-sized rows in one transaction
   (``executemany``), (b) raw JetStream publish of N messages of the same size with
   asynchronous acks, until the last ack.
2. Seed N active PRISME contracts of last year (clients with 5 users and 6 postes each),
   straight in SQL.
3. Start contracts-svc in-process (uvicorn, real HTTP), ``POST /v1/year-end`` for that year
   while polling ``GET /v1/year-end/{year}`` for progress, and count ``contract.ended`` on
   the CONTRACTS stream until all N are there.
4. Run it again: idempotent, nothing ended, nothing published.

Usage: python bench/year_end.py [--contracts 10000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import nats
from _runs import Runs, Target, add_runs_argument
from nats.js.api import DeliverPolicy, StorageType, StreamConfig
from prisme_chassis.db import create_pool
from prisme_chassis.keys import generate_keypair, mint_token
from prisme_contracts.app import build_app
from prisme_contracts.domain import REUNION
from prisme_contracts.settings import ContractsSettings
from prisme_localinfra import NatsServer, PostgresServer
from prisme_testing.runner import start_service

PAYLOAD = b"x" * 520  # about the size of a contract.ended body


async def baseline_outbox(dsn: str, n: int) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE bench_outbox (seq bigserial PRIMARY KEY, event_id uuid UNIQUE, subject text,"
            " headers jsonb, payload bytea, created_at timestamptz DEFAULT clock_timestamp())"
        )
        rows = [
            (uuid.uuid4(), "contract.ended", '{"ce-type": "contract.ended"}', PAYLOAD)
            for _ in range(n)
        ]
        start = time.perf_counter()
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO bench_outbox (event_id, subject, headers, payload) VALUES ($1, $2, $3::jsonb, $4)",
                rows,
            )
        return time.perf_counter() - start
    finally:
        await conn.close()


async def baseline_publish(url: str, n: int) -> float:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(name="RAWBENCH", subjects=["rawbench.>"], storage=StorageType.FILE)
        )
        start = time.perf_counter()
        futures = []
        for i in range(n):
            futures.append(
                await js.publish_async("rawbench.ended", PAYLOAD, headers={"Nats-Msg-Id": f"m{i}"})
            )
            if len(futures) >= 500:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
        return time.perf_counter() - start
    finally:
        await nc.close()


async def seed(dsn: str, year: int, n: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            f"CREATE TEMP TABLE seed_clients AS SELECT gen_random_uuid() AS id, i FROM generate_series(1, {int(n)}) i"
        )
        await conn.execute(
            "INSERT INTO clients (id, name, siren, manager_name, manager_email, manager_phone, line1,"
            " postal_code, city) SELECT id, 'Cabinet ' || i, '732829320', 'Dr X', 'gerant' || i || '@cab.re',"
            " '0262123456', '1 rue de Paris', '97400', 'Saint-Denis' FROM seed_clients"
        )
        await conn.execute(
            "INSERT INTO client_users (id, client_id, first_name, last_name, email, role)"
            " SELECT gen_random_uuid(), c.id, 'Prénom' || u, 'Nom' || u, 'u' || u || '.' || c.i || '@cab.re',"
            " 'employee' FROM seed_clients c, generate_series(1, 5) u"
        )
        await conn.execute(
            "INSERT INTO assets (id, client_id, name, function, kind, form, os, supplied_by)"
            " SELECT gen_random_uuid(), c.id, 'PC' || a, 'poste', 'workstation', 'physical', 'Windows 11',"
            " 'provider' FROM seed_clients c, generate_series(1, 6) a"
        )
        await conn.execute(
            "INSERT INTO contracts (id, client_id, offer, year, start_date, end_date, status, version,"
            " created_by, activated_at) SELECT gen_random_uuid(), id, 'prisme', $1, make_date($1, 1, 1),"
            " make_date($1, 12, 31), 'active', 2, 'bench', now() FROM seed_clients",
            year,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def count_ended(url: str, n: int, timeout: float) -> tuple[int, float]:
    """Wait until ``n`` contract.ended messages are on the stream; returns (count, when)."""
    nc = await nats.connect(url)
    got = 0
    done = asyncio.Event()
    last = 0.0

    async def on_msg(msg: object) -> None:
        nonlocal got, last
        got += 1
        last = time.perf_counter()
        if got >= n:
            done.set()

    try:
        js = nc.jetstream()
        sub = await js.subscribe(
            "contract.ended", cb=on_msg, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout)
        await sub.unsubscribe()
    finally:
        await nc.close()
    return got, last


async def main(n: int, batch: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-year-end-") as tmp:
        root = Path(tmp)
        pg = PostgresServer(root / "pg", durable=False)
        ns = NatsServer(root / "nats")
        pg.start()
        ns.start()
        try:
            conn = await asyncpg.connect(pg.admin_dsn)
            await conn.execute("CREATE DATABASE contracts")
            await conn.execute("CREATE DATABASE baseline")
            await conn.close()
            dsn = pg.dsn("contracts")

            t_outbox = await baseline_outbox(pg.dsn("baseline"), n)
            t_publish = await baseline_publish(ns.url, n)

            private, public = generate_keypair()
            token = mint_token(
                private, sub="op-bench", scopes=["contracts:write", "contracts:read"]
            )
            data_dir = root / "data"
            data_dir.mkdir()
            settings = ContractsSettings(
                env="development",
                nats_url=ns.url,
                jwt_public_key=public,
                database_url=dsn,
                data_dir=data_dir,
                year_end_batch_size=batch,
                log_level="WARNING",
            )
            year = datetime.now(UTC).astimezone(REUNION).year - 1
            app = build_app(settings)
            async with start_service(app, headers={"Authorization": f"Bearer {token}"}) as client:
                t0 = time.perf_counter()
                await seed(dsn, year, n)
                t_seed = time.perf_counter() - t0

                samples: list[tuple[float, int, int]] = []

                async def poll(stop: asyncio.Event) -> None:
                    async with httpx.AsyncClient(
                        base_url=str(client.base_url), headers=dict(client.headers)
                    ) as c:
                        while not stop.is_set():
                            r = await c.get(f"/v1/year-end/{year}")
                            p = r.json()
                            samples.append(
                                (time.perf_counter() - start, p["ended"], p["remaining"])
                            )
                            await asyncio.sleep(0.25)

                waiter = asyncio.create_task(count_ended(ns.url, n, timeout=300))
                stop = asyncio.Event()
                start = time.perf_counter()
                poller = asyncio.create_task(poll(stop))
                r = await client.post("/v1/year-end", json={"year": year}, timeout=600)
                t_http = time.perf_counter() - start
                stop.set()
                await poller
                got, last = await waiter
                t_events = last - start if got else float("nan")
                body = r.json()

                t1 = time.perf_counter()
                r2 = await client.post("/v1/year-end", json={"year": year}, timeout=600)
                t_rerun = time.perf_counter() - t1
                again, _ = await count_ended(ns.url, n + 1, timeout=2.0)

            pool = await create_pool(dsn, min_size=1, max_size=1)
            async with pool.acquire() as c:
                still_active = await c.fetchval(
                    "SELECT count(*) FROM contracts WHERE status = 'active'"
                )
                audit_rows = await c.fetchval(
                    "SELECT count(*) FROM audit_log WHERE action = 'contract.ended'"
                )
            await pool.close()
        finally:
            ns.stop()
            pg.stop(mode="immediate")

    print(f"year-end bench: {n} active PRISME contracts, batch size {batch}")
    print(f"  seed (SQL)                                  {t_seed:8.2f} s")
    print(f"  baseline: {n} outbox rows, one executemany   {t_outbox:8.2f} s")
    print(f"  baseline: {n} raw JetStream publishes        {t_publish:8.2f} s")
    print(f"  baseline sum (write + publish)              {t_outbox + t_publish:8.2f} s")
    print(
        f"  POST /v1/year-end answered                  {t_http:8.2f} s  (status {r.status_code}, ended {body.get('ended')})"
    )
    print(f"  all contract.ended on the stream            {t_events:8.2f} s  ({got}/{n} events)")
    print(f"  throughput                                  {n / t_events:8.0f} contracts/s")
    print(
        f"  ratio year-end / baseline sum               {t_events / (t_outbox + t_publish):8.2f}x"
    )
    print(
        f"  second run (idempotent)                     {t_rerun:8.2f} s  (status {r2.status_code}, events on stream {again})"
    )
    print(f"  contracts still active: {still_active}; audit rows: {audit_rows}")
    print("  progress samples (s, ended, remaining):")
    for s in samples[:: max(1, len(samples) // 8)]:
        print(f"    {s[0]:6.2f}  {s[1]:6d}  {s[2]:6d}")
    ok = got == n and again == n and still_active == 0 and audit_rows == n
    print("  verdict:", "OK" if ok else "FAILED", "(every contract ended once, idempotent re-run)")
    return {
        "events_s": t_events,
        "contracts_per_s": n / t_events,
        "ratio_to_baseline": t_events / (t_outbox + t_publish),
        "exactly_once": float(ok),
    }


TARGETS = [
    Target(
        "exactly_once",
        "P2 contracts' year-end share, each contract ended once",
        at_least=1,
        unit="",
    )
]


async def repeat(n: int, batch: int, runs_wanted: int) -> int:
    runs = Runs(f"P2 contracts-svc year-end, {n} contracts", TARGETS, runs_wanted)
    for _ in runs:
        runs.record(await main(n, batch))
    return runs.finish()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    add_runs_argument(parser)
    args = parser.parse_args()
    sys.exit(asyncio.run(repeat(args.contracts, args.batch, args.runs)))
