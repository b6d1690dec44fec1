"""R5: the secrets the dashboard generates or receives are in no log, table, audit row or
message on the bus: passwords (initial and chosen), TOTP seeds, recovery codes, session
tokens and integration tokens."""

from __future__ import annotations

import logging
import re

import asyncpg
import nats
import pyotp
import pytest
from prisme_chassis.revocations import BUCKET

from .conftest import Dashboard

PASSWORD = "une phrase de passe assez longue"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:300]
    return match.group(1)


async def test_no_secret_in_logs_tables_audit_or_bus(
    dashboard: Dashboard, caplog: pytest.LogCaptureFixture, nats_url: str
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: dict[str, str] = {}
    client = dashboard.client
    origin = {"Origin": dashboard.url}
    secrets["initial password"] = initial = await dashboard.add_operator("rh@prisme.re", "admin")

    page = await client.get("/login")
    jar = {"Cookie": f"__Host-prisme_login={page.cookies['__Host-prisme_login']}", **origin}
    form = {"email": "rh@prisme.re", "password": initial, "csrf_token": _csrf(page.text)}
    signed = await client.post("/login", data=form, headers=jar)
    secrets["first session token"] = token = signed.cookies["__Host-prisme_session"]
    jar = {"Cookie": f"__Host-prisme_session={token}", **origin}
    change = await client.get("/password", headers=jar)
    form = {
        "current_password": initial,
        "new_password": PASSWORD,
        "confirm_password": PASSWORD,
        "csrf_token": _csrf(change.text),
    }
    changed = await client.post("/password", data=form, headers=jar)
    secrets["chosen password"] = PASSWORD
    secrets["second session token"] = token = changed.cookies["__Host-prisme_session"]
    jar = {"Cookie": f"__Host-prisme_session={token}", **origin}

    security = await client.get("/security", headers=jar)
    form = {"current_password": PASSWORD, "csrf_token": _csrf(security.text)}
    await client.post("/security/totp/start", data=form, headers=jar)
    security = await client.get("/security", headers=jar)
    seed = re.search(r'<code class="secret">([A-Z2-7]+)</code>', security.text)
    assert seed
    secrets["TOTP seed"] = seed.group(1)
    form = {"code": pyotp.TOTP(seed.group(1)).now(), "csrf_token": _csrf(security.text)}
    shown = await client.post("/security/totp/confirm", data=form, headers=jar)
    codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", shown.text)
    assert len(codes) == 10
    secrets |= {f"recovery code {i}": code for i, code in enumerate(codes)}

    tokens = await client.get("/admin/tokens", headers=jar)
    form = {"name": "ERP", "days": "30", "scopes": "billing:read", "csrf_token": _csrf(tokens.text)}
    created = await client.post("/admin/tokens", data=form, headers=jar)
    integration = re.search(r'id="new-token">([^<]+)</code>', created.text)
    assert integration
    secrets["integration token"] = integration.group(1)
    token_id = re.search(r'/admin/tokens/([0-9a-f-]{36})/revoke"', created.text)
    assert token_id
    listing = await client.get("/admin/tokens", headers=jar)
    revoked = await client.post(
        f"/admin/tokens/{token_id.group(1)}/revoke",
        data={"csrf_token": _csrf(listing.text)},
        headers=jar,
    )
    assert revoked.status_code == 303

    # every table of the dashboard's database, row by row, as text
    conn = await asyncpg.connect(dashboard.dsn)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        rows = []
        for table in tables:
            rows += await conn.fetch(f'SELECT t::text FROM "{table[0]}" t')  # noqa: S608
        dump = "\n".join(str(row[0]) for row in rows)
        audit = "\n".join(str(r[0]) for r in await conn.fetch("SELECT a::text FROM audit_trail a"))
    finally:
        await conn.close()
    for action in (
        "operator.password_changed",
        "integration_token.created",
        "integration_token.revoked",
        "sign_in.succeeded",
        "second_factor.enabled",
    ):
        assert action in audit

    # everything on the bus: the key-value buckets' streams included
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        kv = await js.key_value(BUCKET)
        entries = [await kv.get(key) for key in await kv.keys()]
        bus = "\n".join(repr((entry.key, entry.value)) for entry in entries)
        names = [s.config.name for s in await js.streams_info()]
    finally:
        await nc.close()
    assert token_id.group(1) in bus  # the revocation names the token by its id only

    # every record of the process at DEBUG, but the test client's own wire trace (httpcore
    # logs the raw headers it receives, Set-Cookie included: that is this test, not a service)
    logs = "\n".join(
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(("httpcore", "httpx"))
    )
    assert logs  # the logs were captured at all
    for what, value in secrets.items():
        for where, text in (("tables", dump), ("audit", audit), ("bus", bus), ("logs", logs)):
            assert value not in text, f"{what} found in {where}"
    assert "KV_prisme-revocations" in names
