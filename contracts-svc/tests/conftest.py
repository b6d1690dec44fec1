"""contracts-svc test fixtures: the service in-process on real PostgreSQL and NATS, and factories."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from prisme_chassis.clock import CLOCK, REUNION, Clock
from prisme_contracts.app import build_app
from prisme_contracts.settings import ContractsSettings
from prisme_testing.plugin import start_service

SIRENS = ["732829320", "552100554", "443061841", "356000000", "542065479", "775672272"]


@dataclass
class Svc:
    """A running contracts-svc: HTTP clients for two operators, its clock, its bus and database."""

    alice: httpx.AsyncClient
    bob_headers: dict[str, str]
    clock: Clock
    nats_url: str
    dsn: str
    app: Any
    _n: list[int] = field(default_factory=lambda: [0])

    async def as_bob(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return await self.alice.request(method, url, headers=self.bob_headers, **kw)

    async def audit(self, **params: Any) -> list[dict[str, Any]]:
        """The chassis' audit trail (``GET /v1/audit``) for these filters, oldest first."""
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query = {**params, "limit": 200, **({"cursor": cursor} if cursor else {})}
            resp = await self.alice.get("/v1/audit", params=query)
            assert resp.status_code == 200, resp.text
            rows += resp.json()["items"]
            cursor = resp.json()["next_cursor"]
            if cursor is None:
                return rows[::-1]

    # --- factories ---------------------------------------------------------------------

    async def client(self, *, postal_code: str = "97490", **over: Any) -> dict[str, Any]:
        self._n[0] += 1
        body: dict[str, Any] = {
            "name": f"Cabinet médical n°{self._n[0]}",
            "siren": SIRENS[self._n[0] % len(SIRENS)],
            "manager": {
                "name": "Dr Payet",
                "email": "dr.payet@cabinet.re",
                "phone": "0262 12 34 56",
            },
            "address": {
                "line1": "1 rue de Paris",
                "postal_code": postal_code,
                "city": "Sainte-Clotilde",
            },
        }
        body.update(over)
        r = await self.alice.post("/v1/clients", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def eligible_client(self, *, workstations: int = 3, users: int = 2) -> dict[str, Any]:
        """A practice meeting every C3 criterion, with ``workstations`` postes and a printer."""
        c = await self.client()
        cid = c["id"]
        r = await self.alice.put(
            f"/v1/clients/{cid}/network",
            json={"lan_count": 1, "download_mbps": 1000, "upload_mbps": 600},
        )
        assert r.status_code == 200, r.text
        for i in range(workstations):
            await self.asset(cid, name=f"PC{i + 1}")
        await self.asset(cid, name="IMP1", kind="peripheral", function="imprimante", os="firmware")
        for i in range(users):
            await self.user(cid, first_name=f"Prénom{i}", last_name=f"Nom{i}")
        return c

    async def asset(self, client_id: str, *, expect: int = 201, **over: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": "PC",
            "function": "poste secrétariat",
            "kind": "workstation",
            "form": "physical",
            "os": "Windows 11 Pro",
            "supplied_by": "provider",
        }
        body.update(over)
        r = await self.alice.post(f"/v1/clients/{client_id}/assets", json=body)
        assert r.status_code == expect, r.text
        return dict(r.json())

    async def user(self, client_id: str, **over: Any) -> dict[str, Any]:
        self._n[0] += 1
        body: dict[str, Any] = {
            "first_name": "Marie",
            "last_name": "Hoarau",
            "email": f"user{self._n[0]}@cabinet.re",
            "role": "secretary",
        }
        body.update(over)
        r = await self.alice.post(f"/v1/clients/{client_id}/users", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def contract(
        self, client_id: str, *, offer: str = "prisme", start: date | None = None
    ) -> dict[str, Any]:
        start = start or date(self.clock.today().year, 3, 15)
        r = await self.alice.post(
            "/v1/contracts",
            json={"client_id": client_id, "offer": offer, "start_date": start.isoformat()},
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def active_contract(self, **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        c = await self.eligible_client(**kw)
        k = await self.contract(c["id"])
        r = await self.alice.post(f"/v1/contracts/{k['id']}/activate")
        assert r.status_code == 200, r.text
        return c, dict(r.json())


ServiceFactory = Callable[..., contextlib.AbstractAsyncContextManager[Svc]]


@pytest.fixture
async def run_contracts(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    make_token: Callable[..., str],
) -> ServiceFactory:
    """Factory: ``async with run_contracts(at=..., dsn=...) as svc`` (restartable on one database);
    ``at`` is where the process clock is moved before the service starts."""
    default_dsn = await new_database()

    @contextlib.asynccontextmanager
    async def run(
        at: datetime | None = None, dsn: str | None = None, **settings: Any
    ) -> AsyncIterator[Svc]:
        CLOCK.reset()
        # Mid-June of the current year by default: the tests' dates (15 March starts, "today"
        # cessations, amendments) hold whatever day the suite runs on.
        CLOCK.travel_to(at or datetime(CLOCK.today().year, 6, 15, 10, 0, tzinfo=REUNION))
        db = dsn or default_dsn
        conf = ContractsSettings(
            **base_settings,
            database_url=db,
            year_end_check_seconds=0.1,
            cessation_check_seconds=0.1,
            **settings,
        )
        app = build_app(conf)
        alice = {"Authorization": f"Bearer {make_token(sub='op-alice')}"}
        bob = {"Authorization": f"Bearer {make_token(sub='op-bob')}"}
        async with start_service(app, headers=alice) as client:
            yield Svc(
                alice=client,
                bob_headers=bob,
                clock=CLOCK,
                nats_url=base_settings["nats_url"],
                dsn=db,
                app=app,
            )

    return run


@pytest.fixture
async def svc(run_contracts: ServiceFactory) -> AsyncIterator[Svc]:
    async with run_contracts() as s:
        yield s


def new_id() -> str:
    return str(uuid.uuid4())
