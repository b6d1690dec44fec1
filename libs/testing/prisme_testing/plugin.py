"""pytest plugin: real NATS JetStream and PostgreSQL for every service's tests.

Loaded for the whole workspace with ``-p prisme_testing.plugin``. PostgreSQL runs once per
session (per xdist worker) and each test gets a fresh database; each test gets its own
``nats-server -js`` (it starts in milliseconds), so streams and consumers never leak between tests.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prisme_chassis.clock import CLOCK
from prisme_chassis.keys import generate_keypair, mint_token
from prisme_localinfra import NatsServer, PostgresServer

from .events import collect_events, publish_event
from .runner import ServiceProcess, start_service
from .secured_nats import SecuredNats

__all__ = ["ServiceProcess", "collect_events", "publish_event", "start_service"]


@pytest.fixture(autouse=True)
def platform_clock() -> Iterator[None]:
    """The process clock at the system time for every test, and again after it (a test that
    travels, or runs a production-mode service in-process, leaves nothing behind)."""
    CLOCK.unlock()
    CLOCK.reset()
    yield
    CLOCK.unlock()
    CLOCK.reset()


@pytest.fixture(scope="session")
def pg() -> Iterator[PostgresServer]:
    """A real PostgreSQL for the session (fsync off: a test run needs no crash durability).

    Its data lives outside pytest's temporary root: as root, PostgreSQL runs as another user
    that must traverse the path, and every pytest process (each xdist worker) resets
    ``/tmp/pytest-of-root`` to mode 0700 when it starts.
    """
    root = Path(tempfile.mkdtemp(prefix="prisme-test-pg-"))
    server = PostgresServer(root, durable=False)
    server.start()
    yield server
    server.stop(mode="immediate")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def new_database(pg: PostgresServer) -> Callable[[], Awaitable[str]]:
    """Factory: ``await new_database()`` → DSN of a new, empty database."""

    async def create() -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        conn = await asyncpg.connect(pg.admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return pg.dsn(name)

    return create


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[SecuredNats]:
    """A fresh nats-server with the platform's least-privilege users (``.url(user)``)."""
    server = SecuredNats(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture(scope="session")
def platform_keys() -> tuple[str, str]:
    """(private PEM, public PEM) of a platform key made for this session."""
    return generate_keypair()


@pytest.fixture
def make_token(platform_keys: tuple[str, str]) -> Callable[..., str]:
    def make(
        scopes: tuple[str, ...] | list[str] = ("admin",), sub: str = "op-alice", **kw: Any
    ) -> str:
        return mint_token(platform_keys[0], sub=sub, scopes=list(scopes), **kw)

    return make


@pytest.fixture
def auth_headers(make_token: Callable[..., str]) -> dict[str, str]:
    """Bearer header of an admin operator."""
    return {"Authorization": f"Bearer {make_token()}"}


@pytest.fixture
def base_settings(nats_url: str, platform_keys: tuple[str, str], tmp_path: Path) -> dict[str, Any]:
    """Keyword arguments every ``ServiceSettings`` subclass needs in a test."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return {
        "env": "test",
        "nats_url": nats_url,
        "jwt_public_key": platform_keys[1],
        "data_dir": data_dir,
    }


@pytest.fixture
def service_runner() -> Callable[..., Any]:
    """``async with service_runner(app) as client`` — see :func:`start_service`."""
    return start_service


async def _noop() -> AsyncIterator[None]:  # pragma: no cover - keeps the module importable alone
    yield
