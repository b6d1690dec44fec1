"""The platform as real processes for R1 (DESIGN §8): its own PostgreSQL and NATS (so the test
can restart them without disturbing other tests), the five domain services as
``python -m prisme_<svc>`` processes (optionally several replicas of some, on the same database
and NATS), the Graph sandbox served in the test's event loop, the Stripe and mail sandboxes as
processes. Faults: :meth:`R1Platform.kill` (SIGKILL, then started again),
:meth:`R1Platform.restart_nats`, :meth:`R1Platform.restart_postgres`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import uvicorn
from prisme_chassis import clock
from prisme_chassis.keys import generate_keypair, mint_token
from prisme_events import dead_letter_stream
from prisme_graph_sandbox import Directory
from prisme_graph_sandbox import create_app as create_graph
from prisme_localinfra import NatsServer, PostgresServer, free_port
from prisme_testing.runner import ServiceProcess

SERVICES = ("contracts", "billing", "licence", "video", "backup")
TENANT = "provider-tenant"


@dataclass
class R1Platform:
    root: Path
    pg: PostgresServer
    ns: NatsServer
    graph_url: str
    stripe_url: str
    mail_url: str
    procs: dict[str, list[ServiceProcess]]
    alice: dict[str, str]
    bob: dict[str, str]
    admin: dict[str, str]
    http: httpx.AsyncClient
    sandboxes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def url(self, service: str, replica: int = 0) -> str:
        return self.procs[service][replica].url

    async def call(
        self, method: str, service: str, path: str, *, replica: int = 0, **kw: Any
    ) -> httpx.Response:
        headers = kw.pop("headers", self.alice)
        return await self.http.request(
            method, self.url(service, replica) + path, headers=headers, **kw
        )

    async def kill(self, service: str, replica: int = 0) -> None:
        """``kill -9`` of one process, then started again (what a supervisor does)."""
        proc = self.procs[service][replica]
        proc.kill()
        proc.start()
        await proc.wait_ready(120)

    async def restart_nats(self) -> None:
        await asyncio.to_thread(self.ns.restart)

    async def restart_postgres(self) -> None:
        await asyncio.to_thread(self.pg.restart)

    async def travel(self, instant: datetime) -> None:
        """``prisme clock travel``: every service's clock, through the platform's KV entry."""
        nc = await nats.connect(self.ns.url)
        try:
            await clock.travel(nc.jetstream(), instant)
        finally:
            await nc.close()

    async def dead_letters(self) -> dict[str, int]:
        nc = await nats.connect(self.ns.url)
        out: dict[str, int] = {}
        try:
            js = nc.jetstream()
            for name in SERVICES:
                stream = dead_letter_stream(f"{name}-svc").name
                try:
                    out[name] = (await js.stream_info(stream)).state.messages
                except nats.js.errors.NotFoundError:
                    out[name] = 0
        finally:
            await nc.close()
        return out

    async def subject_count(self, stream: str, subject: str) -> int:
        nc = await nats.connect(self.ns.url)
        try:
            info = await nc.jetstream().stream_info(stream, subjects_filter=subject)
            return int((info.state.subjects or {}).get(subject, 0))
        finally:
            await nc.close()


async def _wait_http(url: str, timeout: float = 60.0) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(int(timeout * 10)):
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(url)


@asynccontextmanager
async def r1_platform(replicas: dict[str, int], start: datetime) -> AsyncIterator[R1Platform]:
    """Everything started, the platform clock at ``start``; stopped and removed after."""
    # Outside pytest's tmp tree: PostgreSQL's own system user must reach it (run as root).
    root = Path(tempfile.mkdtemp(prefix="prisme-r1-"))
    logs = root / "logs"
    logs.mkdir()
    pg = PostgresServer(root / "pg", durable=False)
    ns = NatsServer(root / "nats", log_file=logs / "nats.log")
    graph_server: uvicorn.Server | None = None
    graph_task: asyncio.Task[None] | None = None
    procs: dict[str, list[ServiceProcess]] = {}
    sandboxes: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(pg.start)
        await asyncio.to_thread(ns.start)
        nc = await nats.connect(ns.url)
        await clock.travel(nc.jetstream(), start)
        await nc.close()

        graph_port = free_port()
        graph_server = uvicorn.Server(
            uvicorn.Config(
                create_graph(Directory({"O365_BUSINESS": 500})),
                host="127.0.0.1",
                port=graph_port,
                log_config=None,
                timeout_graceful_shutdown=2,
            )
        )
        graph_server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        graph_task = asyncio.create_task(graph_server.serve())
        graph_url = f"http://127.0.0.1:{graph_port}"

        ports = {name: [free_port() for _ in range(replicas.get(name, 1))] for name in SERVICES}
        stripe_port, mail_port, smtp_port = free_port(), free_port(), free_port()
        webhook_secret = "whsec_" + secrets.token_hex(16)
        billing_url = f"http://127.0.0.1:{ports['billing'][0]}"
        sandboxes.append(
            subprocess.Popen(  # noqa: ASYNC220 - started once, before the test runs
                [
                    sys.executable,
                    "-m",
                    "prisme_stripe_sandbox",
                    "--port",
                    str(stripe_port),
                    "--webhook-url",
                    f"{billing_url}/v1/webhooks/stripe",
                ],
                env={**os.environ, "PRISME_STRIPE_SANDBOX_WEBHOOK_SECRET": webhook_secret},
                stdout=(logs / "stripe-sandbox.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        sandboxes.append(
            subprocess.Popen(  # noqa: ASYNC220 - started once, before the test runs
                [
                    sys.executable,
                    "-m",
                    "prisme_mail_sandbox",
                    "--port",
                    str(mail_port),
                    "--smtp-port",
                    str(smtp_port),
                ],
                stdout=(logs / "mail-sandbox.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

        private, public = generate_keypair()
        dsn = {name: await asyncio.to_thread(pg.create_database, name) for name in SERVICES}
        common = {
            "PRISME_ENV": "test",
            "PRISME_NATS_URL": ns.url,
            "PRISME_JWT_PUBLIC_KEY": public,
            "PRISME_LOG_LEVEL": "INFO",
            "PRISME_SMTP_HOST": "127.0.0.1",
            "PRISME_SMTP_PORT": str(smtp_port),
        }
        billing_token = mint_token(private, sub="contracts-svc", scopes=["billing:read"])
        specific: dict[str, dict[str, str]] = {
            "contracts": {
                "PRISME_CONTRACTS_YEAR_END_CHECK_SECONDS": "3600",
                "PRISME_CONTRACTS_CESSATION_CHECK_SECONDS": "0.5",
                "PRISME_CONTRACTS_BILLING_URL": billing_url,
                "PRISME_CONTRACTS_BILLING_TOKEN": billing_token,
            },
            "billing": {
                "PRISME_BILLING_STRIPE_ENABLED": "true",
                "PRISME_BILLING_STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
                "PRISME_BILLING_STRIPE_API_KEY": "sk_test_r1",
                "PRISME_BILLING_STRIPE_WEBHOOK_SECRET": webhook_secret,
                "PRISME_BILLING_STRIPE_JOB_BACKOFF_BASE_S": "0.2",
                "PRISME_BILLING_STRIPE_JOB_BACKOFF_CAP_S": "2",
                # a webhook lost while billing was down is caught up by the reconciliation
                "PRISME_BILLING_RECONCILE_EVERY_S": "5",
            },
            "licence": {
                "PRISME_LICENCE_GRAPH_BASE_URL": f"{graph_url}/v1.0",
                "PRISME_LICENCE_GRAPH_TOKEN_URL": graph_url + "/{tenant}/oauth2/v2.0/token",
                "PRISME_LICENCE_DEFAULT_TENANT": TENANT,
                "PRISME_LICENCE_DEFAULT_DOMAIN": "prisme.re",
                "PRISME_LICENCE_BACKOFF_BASE_SECONDS": "0.2",
                "PRISME_LICENCE_BACKOFF_CAP_SECONDS": "2",
                "PRISME_LICENCE_JOB_LEASE_SECONDS": "5",
            },
            "video": {
                "PRISME_VIDEO_THROTTLE_BASE_DELAY_SECONDS": "0",
                "PRISME_VIDEO_ARGON2_TIME_COST": "1",
                "PRISME_VIDEO_ARGON2_MEMORY_KIB": "8192",
                "PRISME_VIDEO_RETENTION_INTERVAL_SECONDS": "3600",
            },
            "backup": {"PRISME_BACKUP_WATCH_INTERVAL": "0.5"},
        }
        for name in SERVICES:
            data = root / "data" / name  # replicas share it (generated keys, objects)
            data.mkdir(parents=True)
            procs[name] = []
            for n, port in enumerate(ports[name], start=1):
                env = {
                    **common,
                    **specific[name],
                    f"PRISME_{name.upper()}_DATABASE_URL": dsn[name],
                    "PRISME_DATA_DIR": str(data),
                    "PRISME_HTTP_PORT": str(port),
                }
                suffix = "" if n == 1 else f"-{n}"
                procs[name].append(
                    ServiceProcess(f"prisme_{name}", env, log_file=logs / f"{name}{suffix}.log")
                )
        for group in procs.values():
            for proc in group:
                proc.start()
        for group in procs.values():
            for proc in group:
                await proc.wait_ready(180)
        await _wait_http(f"{graph_url}/healthz")
        await _wait_http(f"http://127.0.0.1:{stripe_port}/healthz")
        await _wait_http(f"http://127.0.0.1:{mail_port}/healthz")

        def bearer(sub: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {mint_token(private, sub=sub, scopes=['admin'])}"}

        async with httpx.AsyncClient(timeout=60) as http:
            yield R1Platform(
                root=root,
                pg=pg,
                ns=ns,
                graph_url=graph_url,
                stripe_url=f"http://127.0.0.1:{stripe_port}",
                mail_url=f"http://127.0.0.1:{mail_port}",
                procs=procs,
                alice=bearer("op-alice"),
                bob=bearer("op-bob"),
                admin=bearer("op-r1"),
                http=http,
                sandboxes=sandboxes,
            )
    finally:
        # every process is asked to stop at once, then waited for: one by one, each graceful
        # drain (up to 20 s) added up to a minute of teardown
        services = [p for group in procs.values() for p in group if p.proc is not None]
        running = [p.proc for p in services if p.proc is not None] + sandboxes
        for popen in running:
            if popen.poll() is None:
                popen.terminate()
        deadline = time.monotonic() + 20
        for popen in running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(max(0.1, deadline - time.monotonic()))
        for service in services:
            service.kill()  # what did not stop in time, with its process group
        for sandbox in sandboxes:
            if sandbox.poll() is None:
                sandbox.kill()
                sandbox.wait(5)
        if graph_server is not None and graph_task is not None:
            graph_server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(graph_task), 10)
            except TimeoutError:
                graph_server.force_exit = True
                await asyncio.wait_for(graph_task, 20)
        await asyncio.to_thread(ns.stop)
        await asyncio.to_thread(pg.stop)
        if os.environ.get("PRISME_R1_KEEP"):
            print(f"R1 platform kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
