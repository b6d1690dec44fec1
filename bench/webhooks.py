"""P8 (DESIGN.md §8): webhook deliveries against a plain HTTP client, in one run.

1. Receiver: nginx answering 200 and logging the arrival time of every ``webhook-id`` (far
   faster than either client, so the clients are what is measured).
2. Baseline: a plain client of the dispatcher's HTTP library (aiohttp) posting the same signed
   bodies (same size, same headers) to the receiver with the dispatcher's concurrency: the
   ratio is what the service costs on top of its HTTP client. (httpx, which the dispatcher
   used before, managed 100-700 posts/s here: its pool scans every connection per request.)
3. Dispatcher: the webhooks service as its own process with one endpoint subscribed to
   ``invoice.*``; N ``invoice.paid`` events published to JetStream as a producer's relay does;
   deliveries/s from the first publish until the receiver has every one.
4. Latency: events published one at a time at 100 events/s; latency = arrival at the receiver
   − JetStream publish ack (the outbox → JetStream leg is P1's, bench/bus.py), p50/p99.

Each run repeats 2-4 against the same service (fresh events).

Usage: python bench/webhooks.py [--events 5000] [--rate 100] [--seconds 10] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import asyncpg
import httpx
import nats
from _runs import Runs, Target, add_runs_argument
from prisme_chassis.bus import ensure_stream
from prisme_chassis.keys import generate_keypair, mint_token
from prisme_events import InvoicePaid, cloudevent_headers, encode, stream_for
from prisme_localinfra import NatsServer, PostgresServer, free_port
from prisme_localinfra.ports import wait_for_port
from prisme_testing.runner import ServiceProcess
from prisme_webhooks import domain, signing

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
user root;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format arrivals '$http_webhook_id $msec';
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        location /hook {{
            access_log {tmp}/arrivals.log arrivals;
            return 200 "ok";
        }}
    }}
}}
"""


class Receiver:
    """nginx answering 200 to every POST and logging each ``webhook-id`` with its time: a
    receiver far faster than both clients, so they are what is measured."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "arrivals.log"
        self._read = 0
        self._found: dict[str, float] = {}
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(tmp=tmp, port=self.port))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)])
        wait_for_port(self.port)

    def arrivals(self) -> dict[str, float]:
        """Every ``webhook-id`` seen so far, with its first arrival; reads only what the log
        gained since the last call (re-reading the whole log ten times a second took CPU
        from the dispatcher on two cores, more with every run)."""
        if self.log.exists():
            with self.log.open("rb") as f:
                f.seek(self._read)
                data = f.read()
            complete = data.rfind(b"\n") + 1  # a line still being written waits
            self._read += complete
            for line in data[:complete].decode().splitlines():
                msg_id, _, at = line.partition(" ")
                self._found.setdefault(msg_id, float(at))
        return self._found

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def paid() -> InvoicePaid:
    return InvoicePaid(
        version=1,
        client_id=uuid.uuid4(),
        invoice_id=uuid.uuid4(),
        number="F2026-000123",
        amount="1234.56",
        method="card",
    )


async def wait_for(receiver: Receiver, ids: set[str], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = receiver.arrivals()
        if ids <= got.keys():
            return max(got[i] for i in ids)
        await asyncio.sleep(0.1)
    got = receiver.arrivals()
    raise SystemExit(f"only {len(ids & got.keys())} of {len(ids)} delivered in {timeout}s")


async def baseline(url: str, n: int, concurrency: int) -> float:
    secret = signing.new_secret()
    bodies = []
    for _ in range(n):
        event = paid()
        body = json.dumps(domain.thin_payload(event), separators=(",", ":")).encode()
        bodies.append((str(event.event_id), body))
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=15)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            while not queue.empty():
                msg_id, body = queue.get_nowait()
                headers = signing.headers([secret], msg_id, int(time.time()), body)
                async with client.post(f"{url}/hook", data=body, headers=headers) as r:
                    await r.read()
                    r.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - start)


TARGETS = [
    Target("deliveries_s", "P8 webhooks, deliveries/s", at_least=1000, unit="/s"),
    Target("ratio", "P8 webhooks / plain client", at_least=0.5),
    Target("p99_ms", "P8 webhooks p99 at 100 events/s", below=250, unit="ms"),
]


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    add_runs_argument(parser)
    args = parser.parse_args()
    runs = Runs("P8 webhooks", TARGETS, args.runs)

    root = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    pg = PostgresServer(root / "pg", durable=False)
    pg.start()
    nats_server = NatsServer(root / "nats")
    nats_server.start()
    receiver = Receiver(root)
    receiver_url = receiver.url
    private, public = generate_keypair()
    proc: ServiceProcess | None = None
    try:
        conn = await asyncpg.connect(pg.admin_dsn)
        await conn.execute("CREATE DATABASE webhooks")
        await conn.close()
        proc = ServiceProcess(
            "prisme_webhooks",
            {
                "PRISME_ENV": "test",
                "PRISME_NATS_URL": nats_server.url,
                "PRISME_JWT_PUBLIC_KEY": public,
                "PRISME_DATA_DIR": str(root / "data"),
                "PRISME_WEBHOOKS_DATABASE_URL": pg.dsn("webhooks"),
                "PRISME_WEBHOOKS_DELIVERY_CONCURRENCY": str(args.concurrency),
                "PRISME_WEBHOOKS_ENDPOINT_CONCURRENCY": str(args.concurrency),
                "PRISME_LOG_LEVEL": "WARNING",
            },
            log_file=root / "webhooks.log",
        )
        proc.start()
        await proc.wait_ready(60)
        token = mint_token(private, sub="bench", scopes=["admin"])
        async with httpx.AsyncClient(
            base_url=proc.url, headers={"Authorization": f"Bearer {token}"}
        ) as api:
            r = await api.post(
                "/v1/endpoints",
                json={"url": f"{receiver_url}/hook", "event_types": ["invoice.*"]},
            )
            r.raise_for_status()

        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await ensure_stream(js, stream_for("invoice.paid"))
        for _ in runs:
            base = await baseline(receiver_url, args.events, args.concurrency)
            print(
                f"  baseline plain aiohttp client, {args.concurrency} connections: {base:,.0f} posts/s"
            )
            # throughput: a burst of N events
            events = [paid() for _ in range(args.events)]
            start_wall = time.time()
            acks = [js.publish(e.subject, encode(e), headers=cloudevent_headers(e)) for e in events]
            await asyncio.gather(*acks)
            last = await wait_for(receiver, {str(e.event_id) for e in events}, 600)
            rate = args.events / (last - start_wall)
            print(
                f"  dispatcher {args.events} events → {rate:,.0f} deliveries/s "
                f"({rate / base:.0%} of the plain client)"
            )

            # latency at a fixed rate
            published: dict[str, float] = {}
            interval = 1.0 / args.rate
            count = int(args.rate * args.seconds)
            t0 = time.perf_counter()
            for i in range(count):
                event = paid()
                await js.publish(event.subject, encode(event), headers=cloudevent_headers(event))
                published[str(event.event_id)] = time.time()
                pause = t0 + (i + 1) * interval - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
            await wait_for(receiver, set(published), 120)
            got = receiver.arrivals()
            latencies = sorted((got[i] - t) * 1000 for i, t in published.items())
            p50 = statistics.median(latencies)
            p99 = latencies[int(len(latencies) * 0.99) - 1]
            print(
                f"  latency   {count} events at {args.rate:g}/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            )
            runs.record(
                {
                    "plain_posts_s": base,
                    "deliveries_s": rate,
                    "ratio": rate / base,
                    "p50_ms": p50,
                    "p99_ms": p99,
                }
            )
        await nc.close()
    finally:
        if proc is not None:
            proc.terminate()
        receiver.stop()
        nats_server.stop()
        pg.stop(mode="immediate")
        shutil.rmtree(root, ignore_errors=True)
    return runs.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
