"""Fixtures of licence-svc's tests: a Graph sandbox on a real port, settings, event factories."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
from prisme_localinfra import free_port

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
    port = free_port()
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
    task = asyncio.create_task(server.serve())
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
            "job_poll_seconds": 0.2,
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
    names = names or NAMES
    return [
        ContractUser(
            user_id=uuid.uuid4(),
            first_name=f,
            last_name=last,
            email=f"u{i}@example.re",
            role="assistant",
        )
        for i, (f, last) in enumerate((names * (n // len(names) + 1))[:n])
    ]


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
    return ContractActivated(
        contract_id=contract_id or uuid.uuid4(),
        client_id=client_id,
        version=version,
        offer=offer,
        includes=PRISME_INCLUDES if offer == "prisme" else SAV_INCLUDES,
        year=year,
        client=_client(client_id),
        start_date=date(year, 3, 15),
        end_date=date(year, 12, 31),
        ends_at=datetime(year, 12, 31, 19, 59, 59, tzinfo=UTC),
        postes=5,
        peripherals=2,
        users=users,
        renewal_of=renewal_of,
    )


def amended(
    a: ContractActivated, added: list[ContractUser], removed: list[uuid.UUID], version: int = 3
) -> ContractAmended:
    return ContractAmended(
        contract_id=a.contract_id,
        client_id=a.client_id,
        version=version,
        offer=a.offer,
        includes=a.includes,
        year=a.year,
        amendment_id=uuid.uuid4(),
        intervention_id=uuid.uuid4(),
        effective_date=date(a.year, 6, 1),
        changes=[],
        postes_before=a.postes,
        postes=a.postes,
        peripherals=a.peripherals,
        users_added=added,
        users_removed=removed,
        client=a.client,
    )


def ended(
    a: ContractActivated, version: int = 4, renewal: ContractActivated | None = None
) -> ContractEnded:
    return ContractEnded(
        contract_id=a.contract_id,
        client_id=a.client_id,
        version=version,
        offer=a.offer,
        includes=a.includes,
        year=a.year,
        reason="year_end",
        effective_date=a.end_date,
        ended_at=a.ends_at + timedelta(seconds=1),
        postes=a.postes,
        renewal_contract_id=renewal.contract_id if renewal else None,
        renewal_includes=list(renewal.includes) if renewal else [],
    )


@pytest.fixture
def factories() -> Any:
    class F:
        users = staticmethod(make_users)
        activated = staticmethod(activated)
        amended = staticmethod(amended)
        ended = staticmethod(ended)

    return F


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def eventually() -> Callable[..., Awaitable[None]]:
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
