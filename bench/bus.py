"""P1 (DESIGN.md §8): the event pipeline against raw JetStream, in one run.

1. Baseline: N events published to JetStream (async acks) and consumed by a durable pull
   consumer (explicit acks) — nothing else.
2. Pipeline: the same number of events through the chassis — outbox rows written in business
   transactions, the relay publishing them, the consumer recording each in its inbox and
   committing an effect (the demo service, ``prisme_testing.demo``).
3. Latency: events committed one per transaction at a fixed 1,000 events/s; end-to-end latency
   = effect committed − event created (same clock), p50/p99.

Usage: python bench/bus.py [--events 20000] [--rate 1000] [--seconds 5] [--runs 5]
Each run uses fresh streams and databases on the same servers; the verdict is the worst run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import nats
from _runs import Runs, Target, add_runs_argument
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from prisme_chassis.bus import enqueue, enqueue_many
from prisme_chassis.db import connect
from prisme_chassis.keys import generate_keypair
from prisme_localinfra import NatsServer, PostgresServer
from prisme_testing.demo.app import DemoItemCreated, DemoSettings
from prisme_testing.runner import ServiceProcess


async def raw_jetstream(url: str, n: int, payload: bytes, stream: str = "RAW") -> float:
    nc = await nats.connect(url)
    js = nc.jetstream()
    subject = f"{stream.lower()}.event"
    await js.add_stream(StreamConfig(name=stream, subjects=[subject], storage=StorageType.FILE))
    await js.add_consumer(
        stream,
        ConsumerConfig(durable_name="raw", ack_policy=AckPolicy.EXPLICIT, max_ack_pending=20000),
    )
    psub = await js.pull_subscribe_bind(durable="raw", stream=stream)
    received = 0

    async def consume() -> None:
        nonlocal received
        while received < n:
            try:
                msgs = await psub.fetch(500, timeout=1.0)
            except nats.errors.TimeoutError:
                continue
            for m in msgs:
                await m.ack()
            received += len(msgs)

    start = time.perf_counter()
    consumer = asyncio.create_task(consume())
    for i in range(0, n, 500):
        futs = [
            await js.publish_async(subject, payload, headers={"Nats-Msg-Id": uuid.uuid4().hex})
            for _ in range(min(500, n - i))
        ]
        await asyncio.gather(*futs)
    await consumer
    elapsed = time.perf_counter() - start
    await nc.close()
    return elapsed


async def effects_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM effects"))


@contextlib.asynccontextmanager
async def service(settings: DemoSettings) -> AsyncIterator[None]:
    """The demo service (outbox relay + consumer) as its own process, as in production: the
    writers below stand for the request handlers of the producing service."""
    env = {
        "PRISME_ENV": "test",
        "PRISME_NATS_URL": settings.nats_url,
        "PRISME_DEMO_DATABASE_URL": settings.database_url,
        "PRISME_JWT_PUBLIC_KEY": settings.jwt_public_key,
        "PRISME_DATA_DIR": str(settings.data_dir),
        "PRISME_LOG_LEVEL": "WARNING",
        "PRISME_BATCH_EFFECTS": "true" if settings.batch_effects else "false",
    }
    proc = ServiceProcess("prisme_testing.demo", env)
    proc.start()
    try:
        await proc.wait_ready()
        yield
    finally:
        proc.terminate()


async def pipeline(settings: DemoSettings, n: int) -> float:
    async with service(settings):
        conn = await connect(settings.database_url)
        start = time.perf_counter()
        for i in range(0, n, 500):
            events = [DemoItemCreated(item_id=uuid.uuid4(), n=j) for j in range(min(500, n - i))]
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO items (id, n) VALUES ($1, $2)", [(e.item_id, e.n) for e in events]
                )
                await enqueue_many(conn, events)
        written = time.perf_counter() - start
        relayed = None
        while await effects_count(conn) < n:
            if relayed is None and not await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
            ):
                relayed = time.perf_counter() - start
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        print(
            f"  stages: written {written:.2f}s, relayed {relayed or elapsed:.2f}s, applied {elapsed:.2f}s"
        )
        dupes = await conn.fetchval("SELECT count(*) - count(DISTINCT item_id) FROM effects")
        assert dupes == 0, f"{dupes} duplicate effects"
        await conn.close()
    return elapsed


async def latency(settings: DemoSettings, rate: int, seconds: float) -> list[float]:
    async with service(settings):
        conns = [await connect(settings.database_url) for _ in range(8)]
        await conns[0].execute("TRUNCATE effects")
        total = int(rate * seconds)
        interval = 1.0 / rate
        start = time.perf_counter()

        async def write(i: int) -> None:
            conn = conns[i % len(conns)]
            event = DemoItemCreated(item_id=uuid.uuid4(), n=i)
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO items (id, n) VALUES ($1, $2)", event.item_id, event.n
                )
                await enqueue(conn, event)

        pending: set[asyncio.Task[None]] = set()
        locks = [asyncio.Lock() for _ in conns]

        async def guarded(i: int) -> None:
            async with locks[i % len(conns)]:
                await write(i)

        for i in range(total):
            target = start + i * interval
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(guarded(i))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        achieved = total / (time.perf_counter() - start)
        while await effects_count(conns[0]) < total:
            await asyncio.sleep(0.01)
        rows = await conns[0].fetch(
            "SELECT extract(epoch FROM applied_at - sent_at) * 1000 AS ms FROM effects"
        )
        for c in conns:
            await c.close()
        print(f"  offered rate achieved: {achieved:,.0f} events/s over {total} events")
        return [float(r["ms"]) for r in rows]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


TARGETS = [
    Target("batch_ratio", "P1 bus, set-based handler / raw JetStream", at_least=0.7),
    Target("per_event_ratio", "P1 bus, one-query-per-event handler / raw", at_least=0.5),
    Target("p99_ms", "P1 p99 at 1,000 events/s", below=50, unit="ms"),
]


async def one_run(
    natsd: NatsServer, pg: PostgresServer, root: Path, run: int, args: argparse.Namespace
) -> dict[str, float]:
    payload = DemoItemCreated(item_id=uuid.uuid4(), n=1).model_dump_json().encode()
    raw = await raw_jetstream(natsd.url, args.events, payload, f"RAW{run}")
    _, public = generate_keypair()
    settings = DemoSettings(
        env="test",
        nats_url=natsd.url,
        jwt_public_key=public,
        data_dir=root / f"data{run}",
        database_url=pg.create_database(f"bench_pipeline_{run}"),
        log_level="WARNING",
    )
    piped = await pipeline(settings, args.events)
    batched_settings = settings.model_copy(
        update={"database_url": pg.create_database(f"bench_batch_{run}"), "batch_effects": True}
    )
    batched = await pipeline(batched_settings, args.events)
    lat_settings = settings.model_copy(
        update={"database_url": pg.create_database(f"bench_latency_{run}")}
    )
    lat = await latency(lat_settings, args.rate, args.seconds)
    raw_tput, pipe_tput, batch_tput = args.events / raw, args.events / piped, args.events / batched
    p50, p99 = pct(lat, 0.50), pct(lat, 0.99)
    print(
        f"  raw JetStream publish+consume : {raw_tput:10,.0f} events/s ({raw:.2f}s)\n"
        f"  outbox→relay→consumer+inbox   : {pipe_tput:10,.0f} events/s ({piped:.2f}s) — one query per event\n"
        f"  same, set-based batch handler : {batch_tput:10,.0f} events/s ({batched:.2f}s)\n"
        f"  latency at {args.rate}/s         : p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"mean {statistics.mean(lat):.1f} ms"
    )
    return {
        "raw_eps": raw_tput,
        "per_event_eps": pipe_tput,
        "batch_eps": batch_tput,
        "batch_ratio": batch_tput / raw_tput,
        "per_event_ratio": pipe_tput / raw_tput,
        "p50_ms": p50,
        "p99_ms": p99,
    }


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5.0)
    add_runs_argument(ap)
    args = ap.parse_args()
    runs = Runs("P1 event pipeline", TARGETS, args.runs)
    with tempfile.TemporaryDirectory(prefix="bench-bus-") as tmp:
        root = Path(tmp)
        natsd = NatsServer(root / "nats")
        pg = PostgresServer(root / "pg")  # durable (fsync on), as in production
        natsd.start()
        pg.start()
        try:
            for i in runs:
                runs.record(await one_run(natsd, pg, root, i, args))
        finally:
            pg.stop()
            natsd.stop()
    return runs.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
