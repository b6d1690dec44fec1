"""webhooks test fixtures: a real local HTTP receiver, the mail sandbox, the service itself."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from prisme_chassis.clock import CLOCK
from prisme_localinfra import free_port
from prisme_mail_sandbox.app import create_app as create_mail_sandbox
from prisme_testing.runner import start_service
from prisme_webhooks.app import build_app
from prisme_webhooks.settings import WebhooksSettings


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """An integrator's HTTP server on loopback that records every request it gets.

    ``answers`` is consumed one status per request (then 200); ``delay`` makes it slow.
    """

    port: int = field(default_factory=free_port)
    answers: list[int] = field(default_factory=list)
    headers_for: dict[int, dict[str, str]] = field(default_factory=dict)
    delay: float = 0.0
    #: when set, every request waits for it (a receiver that hangs until released)
    hold: asyncio.Event | None = None
    got: list[Received] = field(default_factory=list)
    server: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.got.append(Received(dict(request.headers), await request.body(), time.monotonic()))
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.hold is not None:
                await self.hold.wait()
            status = self.answers.pop(0) if self.answers else 200
            return Response(
                f"réponse {status}", status_code=status, headers=self.headers_for.get(status)
            )

        return app

    async def start(self) -> None:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_config=None)
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await asyncio.wait_for(self.task, 30)
            self.server = self.task = None

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.got]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@dataclass
class Mail:
    http: httpx.AsyncClient
    smtp_port: int

    async def messages(self, **params: str) -> list[dict[str, Any]]:
        r = await self.http.get("/api/messages", params=params)
        return list(r.json())


@pytest.fixture
async def mail() -> AsyncIterator[Mail]:
    port = free_port()
    async with start_service(create_mail_sandbox(smtp_port=port)) as http:
        yield Mail(http, port)


@pytest.fixture(autouse=True)
def _reset_clock() -> Any:
    CLOCK.unlock()  # a production-mode service in this process locks it
    CLOCK.reset()
    yield
    CLOCK.unlock()
    CLOCK.reset()


Settings = Callable[..., Awaitable[WebhooksSettings]]


@pytest.fixture
def webhooks_settings(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    mail: Mail,
    tmp_path: Path,
) -> Settings:
    """``await webhooks_settings(retry_schedule="0.2,0.5")`` — settings on a fresh database."""
    database: list[str] = []

    async def make(**over: Any) -> WebhooksSettings:
        if not database:
            database.append(await new_database())
        values: dict[str, Any] = {
            **base_settings,
            "database_url": database[0],
            "smtp_port": mail.smtp_port,
            "retry_schedule": "0.2,0.4,0.6",
            "alert_recheck_seconds": 0.2,
            "technicians": "tech1@prisme.test,tech2@prisme.test",
            "accountants": "compta@prisme.test",
            **over,
        }
        return WebhooksSettings(**values)

    return make


@pytest.fixture
def webhooks(
    webhooks_settings: Settings, auth_headers: dict[str, str]
) -> Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]:
    """``async with webhooks(**settings) as client`` — the service in this event loop."""

    @contextlib.asynccontextmanager
    async def run(**over: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = await webhooks_settings(**over)
        async with start_service(build_app(settings), headers=auth_headers) as client:
            yield client

    return run


async def subscribe(client: httpx.AsyncClient, url: str, *types: str) -> dict[str, Any]:
    r = await client.post(
        "/v1/endpoints", json={"url": url, "event_types": list(types), "description": "test"}
    )
    assert r.status_code == 201, r.text
    return dict(r.json())
