"""Fixtures of licence-svc's tests: a Graph sandbox on a real port, settings, event factories."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from prisme_events import (
    Address,
    ClientSnapshot,
    ContractActivated,
    ContractAmended,
    ContractEnded,
    ContractUser,
    Manager,
)
from prisme_graph_sandbox import Directory, create_app
from prisme_licence.settings import LicenceSettings
from prisme_testing import factories as shared
from prisme_testing.polling import eventually as wait_for
from prisme_testing.runner import loopback_socket

PRISME_INCLUDES = ["microsoft_365", "preventive_maintenance", "hds_backup_1tb", "video_recordings"]
SAV_INCLUDES = ["unlimited_support", "backup", "video_recordings"]


@dataclass
class Sandbox:
    url: str
    directory: Directory
    http: httpx.AsyncClient

    async def faults(self, **kw: Any) -> None:
        (await self.http.post("/_sandbox/faults", json=kw)).raise_for_status()

    async def seats(self, tenant: str, enabled: int) -> None:
        r = await self.http.post(f"/_sandbox/tenants/{tenant}/seats", json={"enabled": enabled})
        r.raise_for_status()

    async def state(self, tenant: str) -> dict[str, Any]:
        body: dict[str, Any] = (
            await self.http.get("/_sandbox/state", params={"tenant": tenant})
        ).json()
        return body.get("tenants", {}).get(tenant, {"users": [], "deleted": []}) | {
            "oplog": body["oplog"]
        }


@pytest.fixture
async def graph() -> AsyncIterator[Sandbox]:
    """The Graph sandbox served over HTTP in this event loop (so real client code runs)."""
    directory = Directory({"O365_BUSINESS": 100})
    sock, port = loopback_socket()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(directory),
            host="127.0.0.1",
            port=port,
            log_config=None,
            timeout_graceful_shutdown=2,
        )
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(200):
            try:
                if (await http.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.02)
        yield Sandbox(url, directory, http)
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    sock.close()


@pytest.fixture
def licence_env(base_settings: dict[str, Any], graph: Sandbox) -> Callable[[str], dict[str, Any]]:
    """Settings keywords for a licence-svc bound to ``graph`` and the given database."""

    def make(dsn: str, **overrides: Any) -> dict[str, Any]:
        return {
            **base_settings,
            "database_url": dsn,
            "graph_base_url": f"{graph.url}/v1.0",
            "graph_token_url": graph.url + "/{tenant}/oauth2/v2.0/token",
            "default_tenant": "provider-tenant",
            "default_domain": "prisme.re",
            "credential_purge_seconds": 0.2,
            "backoff_base_seconds": 0.2,
            "backoff_cap_seconds": 2.0,
            "seat_recheck_seconds": 0.5,
            **overrides,
        }

    return make


@pytest.fixture
def settings_for(licence_env: Callable[..., dict[str, Any]]) -> Callable[..., LicenceSettings]:
    def make(dsn: str, **overrides: Any) -> LicenceSettings:
        return LicenceSettings(**licence_env(dsn, **overrides))

    return make


def _client(client_id: uuid.UUID) -> ClientSnapshot:
    return ClientSnapshot(
        client_id=client_id,
        name="Cabinet médical des Hauts",
        siren="123456789",
        address=Address(line1="1 rue de Paris", postal_code="97400", city="Saint-Denis"),
        manager=Manager(name="Dr Payet", email="payet@example.re", phone="0262000000"),
    )


NAMES = [
    ("Jérôme", "Lebon"),
    ("Marie-Ève", "Hoarau"),
    ("Anaïs", "Técher"),
    ("Paul", "Grondin"),
    ("Zoé", "Fontaine"),
]


def make_users(n: int = 5, names: list[tuple[str, str]] | None = None) -> list[ContractUser]:
    return shared.contract_users(n, names or NAMES)


def activated(
    users: list[ContractUser],
    *,
    client_id: uuid.UUID | None = None,
    offer: str = "prisme",
    contract_id: uuid.UUID | None = None,
    year: int = 2026,
    version: int = 2,
    renewal_of: uuid.UUID | None = None,
) -> ContractActivated:
    client_id = client_id or uuid.uuid4()
    return shared.contract_activated(
        contract_id=contract_id,
        client=_client(client_id),
        version=version,
        offer=offer,
        includes=PRISME_INCLUDES if offer == "prisme" else SAV_INCLUDES,
        year=year,
        users=users,
        renewal_of=renewal_of,
    )


def amended(
    a: ContractActivated, added: list[ContractUser], removed: list[uuid.UUID], version: int = 3
) -> ContractAmended:
    return shared.contract_amended(a, version=version, users_added=added, users_removed=removed)


def ended(
    a: ContractActivated, version: int = 4, renewal: ContractActivated | None = None
) -> ContractEnded:
    return shared.contract_ended(a, version=version, renewal=renewal)


@pytest.fixture
def factories() -> Any:
    class F:
        users = staticmethod(make_users)
        activated = staticmethod(activated)
        amended = staticmethod(amended)
        ended = staticmethod(ended)

    return F


@pytest.fixture
def eventually() -> Callable[..., Awaitable[Any]]:
    return wait_for


async def all_tables_text(dsn: str) -> str:
    """Every row of every table of the database, as text (for secret searches)."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        chunks = []
        for t in tables:
            rows = await conn.fetch(f'SELECT t::text AS row FROM "{t["table_name"]}" t')  # noqa: S608
            chunks.extend(r["row"] for r in rows)
            # bytea columns as raw bytes too, decoded leniently
            cols = await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND data_type = 'bytea'",
                t["table_name"],
            )
            for c in cols:
                for r in await conn.fetch(
                    f'SELECT "{c["column_name"]}" AS b FROM "{t["table_name"]}"'  # noqa: S608
                ):
                    if r["b"] is not None:
                        chunks.append(bytes(r["b"]).decode("latin-1"))
        return "\n".join(chunks)
    finally:
        await conn.close()


@pytest.fixture
def dump_tables() -> Callable[[str], Awaitable[str]]:
    return all_tables_text


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
