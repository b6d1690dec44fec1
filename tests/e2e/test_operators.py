"""Operators against the running platform (issue 11): tokens the dashboard signs, four eyes by
identity in contracts-svc, integration tokens revoked everywhere, expiry and key rotation."""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
from e2e_platform import make_pdf, ok
from prisme_chassis.keys import generate_keypair, mint_token
from prisme_contracts.app import build_app as build_contracts
from prisme_contracts.settings import ContractsSettings
from prisme_dashboard import manage
from prisme_dashboard import operators as ops
from prisme_dashboard.app import build_app as build_dashboard
from prisme_dashboard.context import DashboardContext
from prisme_dashboard.settings import DashboardSettings
from prisme_testing.runner import start_service

if TYPE_CHECKING:
    from e2e_platform import Platform

SESSION = "__Host-prisme_session"
LOGIN = "__Host-prisme_login"
PASSWORD = "une phrase de passe assez longue"
#: one read route per service, for an integration token holding every read scope
READS = {
    "contracts": "/v1/contracts",
    "billing": "/v1/invoices",
    "licence": "/v1/accounts",
    "video": "/v1/links",
    "backup": "/v1/plans",
}
READ_SCOPES = ["contracts:read", "billing:read", "licences:read", "videos:read", "backups:read"]


class Dashboard:
    def __init__(self, client: httpx.AsyncClient, dsn: str, app: Any) -> None:
        self.client = client
        self.dsn = dsn
        self.app = app

    @property
    def context(self) -> DashboardContext:
        context: DashboardContext = self.app.state.runtime.context
        return context

    async def operator(self, email: str, role: str) -> tuple[ops.Operator, str]:
        out = io.StringIO()
        assert await manage.execute(["operators", "add", email, "--role", role], self.dsn, out) == 0
        password = re.search(r"une seule fois\) : (\S+)", out.getvalue())
        assert password
        conn = await asyncpg.connect(self.dsn)
        try:
            found = await ops.find(conn, email)
        finally:
            await conn.close()
        return found, password.group(1)

    def token_for(self, operator: ops.Operator, **kw: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.context.issuer.for_operator(operator, **kw)}"}

    async def signed_in(self, email: str, initial: str) -> dict[str, str]:
        """Sign in through the pages (first password change included); the cookie header."""
        origin = {"Origin": str(self.client.base_url).rstrip("/")}
        page = await self.client.get("/login")
        login_cookie = page.cookies[LOGIN]
        form = {"email": email, "password": initial, "csrf_token": _csrf(page.text)}
        jar = {"Cookie": f"{LOGIN}={login_cookie}"}
        done = await self.client.post("/login", data=form, headers={**jar, **origin})
        assert done.status_code == 303, done.text
        jar = {"Cookie": f"{SESSION}={done.cookies[SESSION]}"}
        change = await self.client.get("/password", headers=jar)
        form = {
            "current_password": initial,
            "new_password": PASSWORD,
            "confirm_password": PASSWORD,
            "csrf_token": _csrf(change.text),
        }
        done = await self.client.post("/password", data=form, headers={**jar, **origin})
        assert done.status_code == 303, done.text
        return {"Cookie": f"{SESSION}={done.cookies[SESSION]}", **origin}


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


@pytest.fixture
async def dashboard(
    platform: Platform,
    base_settings: dict[str, Any],
    platform_keys: tuple[str, str],
    new_database: Callable[[], Awaitable[str]],
    tmp_path: Path,
) -> AsyncIterator[Dashboard]:
    data_dir = tmp_path / "dashboard"
    data_dir.mkdir()
    settings = DashboardSettings(
        **{**base_settings, "data_dir": data_dir},
        database_url=await new_database(),
        signing_key=platform_keys[0],
    )
    app = build_dashboard(settings)
    async with start_service(app) as client:
        yield Dashboard(client, settings.database_url, app)


def _services(p: Platform) -> dict[str, httpx.AsyncClient]:
    return {
        "contracts": p.contracts,
        "billing": p.billing,
        "licence": p.licence,
        "video": p.video,
        "backup": p.backup,
    }


async def _active_contract(p: Platform) -> dict[str, Any]:
    client = await p.practice(tag="Grondin", users=1, workstations=2)
    year = p.clock.today().year
    contract = ok(
        await p.contracts.post(
            "/v1/contracts",
            json={
                "client_id": client["id"],
                "offer": "sav_sauvegarde",
                "start_date": date(year, 3, 1).isoformat(),
            },
        ),
        201,
    )
    return dict(ok(await p.contracts.post(f"/v1/contracts/{contract['id']}/activate")))


async def test_four_eyes_by_identity(platform: Platform, dashboard: Dashboard) -> None:
    p = platform
    tech, _ = await dashboard.operator("tech@prisme.re", "technician")
    anne, _ = await dashboard.operator("anne@prisme.re", "accountant")
    lea, _ = await dashboard.operator("lea@prisme.re", "admin")
    contract = await _active_contract(p)
    r = await p.contracts.post(
        f"/v1/contracts/{contract['id']}/terminations",
        data={"reason": "cessation", "effective_date": p.clock.today().isoformat()},
        files={"document": ("radiation.pdf", make_pdf("Radiation"), "application/pdf")},
        headers=dashboard.token_for(tech),
    )
    termination = ok(r, 201)
    assert termination["requested_by"] == str(tech.id)  # sub = the operator's id
    url = f"/v1/terminations/{termination['id']}/approve"

    # a technician cannot approve: the scope is not theirs
    r = await p.contracts.post(url, json={"note": "ok"}, headers=dashboard.token_for(tech))
    assert r.status_code == 403
    assert r.json()["type"] == "https://prisme.example/problems/forbidden"
    assert r.json()["required_scopes"] == ["contracts:approve"]

    # the requester cannot approve, whatever token they hold (here: every scope)
    anything = mint_token(
        dashboard.context.issuer.private_pem, sub=str(tech.id), name=tech.name, scopes=["admin"]
    )
    r = await p.contracts.post(
        url, json={"note": "ok"}, headers={"Authorization": f"Bearer {anything}"}
    )
    assert r.status_code == 403
    assert r.json()["type"] == "https://prisme.example/problems/self-approval"
    assert ok(await p.contracts.get(f"/v1/contracts/{contract['id']}"))["status"] == "active"

    # another operator holding the approver scope can; the audit names both
    approved = ok(
        await p.contracts.post(
            url, json={"note": "extrait Kbis vu"}, headers=dashboard.token_for(anne)
        )
    )
    assert (approved["status"], approved["approved_by"]) == ("approved", str(anne.id))
    trail = ok(await p.contracts.get("/v1/audit", params={"target": termination["id"]}))
    decision = next(row for row in trail["items"] if row["action"] == "termination.approved")
    assert decision["actor"] == str(anne.id)
    assert decision["actor_name"] == anne.name
    assert decision["before"]["requested_by"] == str(tech.id)

    # an admin may approve another's request too, never their own
    second = await _active_contract(p)
    r = await p.contracts.post(
        f"/v1/contracts/{second['id']}/terminations",
        data={"reason": "cessation", "effective_date": p.clock.today().isoformat()},
        files={"document": ("radiation.pdf", make_pdf("Radiation"), "application/pdf")},
        headers=dashboard.token_for(lea),
    )
    mine = ok(r, 201)
    r = await p.contracts.post(
        f"/v1/terminations/{mine['id']}/approve",
        json={"note": "moi"},
        headers=dashboard.token_for(lea),
    )
    assert r.json()["type"] == "https://prisme.example/problems/self-approval"


async def test_operator_tokens_are_short_lived(platform: Platform, dashboard: Dashboard) -> None:
    tech, _ = await dashboard.operator("paul@prisme.re", "technician")
    fresh = dashboard.token_for(tech)
    assert (await platform.contracts.get("/v1/contracts", headers=fresh)).status_code == 200
    # minted six minutes ago: past its five minutes (and the 30 s of tolerated skew)
    old = dashboard.token_for(tech, now=datetime.now(UTC) - timedelta(minutes=6))
    for name, service in _services(platform).items():
        r = await service.get(READS[name], headers=old)
        assert r.status_code == 401, name
        assert r.json()["detail"] == "token expired"


async def test_a_revoked_integration_token_is_refused_by_every_service_within_a_second(
    platform: Platform, dashboard: Dashboard
) -> None:
    _, initial = await dashboard.operator("admin@prisme.re", "admin")
    admin = await dashboard.signed_in("admin@prisme.re", initial)
    page = await dashboard.client.get("/admin/tokens", headers=admin)
    form = {"name": "ERP comptable", "days": "30", "csrf_token": _csrf(page.text)}
    created = await dashboard.client.post(
        "/admin/tokens", data={**form, "scopes": READ_SCOPES}, headers=admin
    )
    assert created.status_code == 201, created.text
    match = re.search(r'<code class="secret" id="new-token">([^<]+)</code>', created.text)
    assert match
    token = {"Authorization": f"Bearer {match.group(1)}"}
    services = _services(platform)
    for name, service in services.items():
        r = await service.get(READS[name], headers=token)
        assert r.status_code == 200, (name, r.text)

    # listed by name, with its last use (reported by the services through the bus)
    async def last_use_shown() -> bool:
        listing = await dashboard.client.get("/admin/tokens", headers=admin)
        row = listing.text.split("ERP comptable", 1)[1].split("</tr>", 1)[0]
        return "jamais" not in row

    deadline = time.monotonic() + 20
    while not await last_use_shown():
        assert time.monotonic() < deadline, "the last use never reached the dashboard"
        await asyncio.sleep(0.2)

    token_id = re.search(r'action="/admin/tokens/([0-9a-f-]{36})/revoke"', created.text)
    assert token_id
    listing = await dashboard.client.get("/admin/tokens", headers=admin)
    revoked = await dashboard.client.post(
        f"/admin/tokens/{token_id.group(1)}/revoke",
        data={"csrf_token": _csrf(listing.text)},
        headers=admin,
    )
    assert revoked.status_code == 303
    revoked_at = time.monotonic()

    async def refused_after(name: str) -> float:
        while True:
            r = await services[name].get(READS[name], headers=token)
            if r.status_code == 401:
                assert r.json()["detail"] == "token revoked"
                return time.monotonic() - revoked_at
            assert time.monotonic() - revoked_at < 10, f"{name} still accepts the token"
            await asyncio.sleep(0.02)

    delays = dict(zip(services, await asyncio.gather(*map(refused_after, services)), strict=True))
    assert max(delays.values()) < 1.0, delays
    listing = await dashboard.client.get("/admin/tokens", headers=admin)
    assert "révoqué" in listing.text


async def test_a_token_signed_by_a_rotated_out_key_is_refused_after_the_overlap(
    base_settings: dict[str, Any],
    platform_keys: tuple[str, str],
    new_database: Callable[[], Awaitable[str]],
    tmp_path: Path,
) -> None:
    old_private, old_public = platform_keys
    new_private, new_public = generate_keypair()
    dsn = await new_database()

    def contracts(public_pem: str) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        settings = ContractsSettings(
            **{**base_settings, "jwt_public_key": public_pem, "data_dir": tmp_path},
            database_url=dsn,
        )
        return start_service(build_contracts(settings))

    def bearer(private_pem: str) -> dict[str, str]:
        token = mint_token(private_pem, sub=str(uuid.uuid4()), scopes=["contracts:read"])
        return {"Authorization": f"Bearer {token}"}

    # the overlap: the services trust the new key and the previous one
    async with contracts(new_public + old_public) as api:
        assert (await api.get("/v1/contracts", headers=bearer(old_private))).status_code == 200
        assert (await api.get("/v1/contracts", headers=bearer(new_private))).status_code == 200
    # after it, only the new key
    async with contracts(new_public) as api:
        assert (await api.get("/v1/contracts", headers=bearer(new_private))).status_code == 200
        refused = await api.get("/v1/contracts", headers=bearer(old_private))
        assert refused.status_code == 401
