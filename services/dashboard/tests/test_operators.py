"""Operators from the command line (O1) and the password rules (DESIGN §7)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from prisme_chassis.sealing import SealingError
from prisme_dashboard import manage, passwords, roles
from prisme_dashboard.app import build_app
from prisme_dashboard.context import derive_context
from prisme_dashboard.passwords import MIN_LENGTH
from prisme_dashboard.settings import DashboardSettings
from prisme_testing.plugin import start_service

from .conftest import Dashboard, csrf_of


def test_password_rules_are_length_and_the_block_list_only() -> None:
    assert passwords.policy_problems("a" * (MIN_LENGTH - 1))
    assert passwords.policy_problems("court") != []
    assert passwords.policy_problems("correct horse battery") == []
    assert passwords.policy_problems("tout en minuscules sans chiffres") == []  # no composition
    common = next(p for p in sorted(passwords.common_passwords()) if len(p) >= MIN_LENGTH)
    assert any("courants" in problem for problem in passwords.policy_problems(common))
    assert any("courants" in p for p in passwords.policy_problems(common.upper()))
    assert passwords.policy_problems("claire.hoarau2026", email="claire.hoarau@prisme.re")


def test_hashes_are_argon2id_and_verify() -> None:
    hashed = passwords.hash_password("une phrase assez longue")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify_password(hashed, "une phrase assez longue")
    assert not passwords.verify_password(hashed, "une autre phrase longue")
    assert not passwords.verify_password(None, "une phrase assez longue")


def test_every_role_maps_to_scopes_and_the_readme_prints_the_table() -> None:
    assert set(roles.ROLE_SCOPES) == set(roles.ROLES)
    assert roles.scopes_for(["admin"]) == ["admin"]
    assert "contracts:approve" not in roles.scopes_for(["technician"])
    assert "contracts:approve" in roles.scopes_for(["accountant"])
    assert roles.scopes_for(["technician", "accountant"]) == sorted(
        set(roles.ROLE_SCOPES["technician"]) | set(roles.ROLE_SCOPES["accountant"])
    )


async def test_add_list_disable_enable_and_reset_from_the_command_line(
    dashboard: Dashboard,
) -> None:
    first = await dashboard.add_operator("Anne@Prisme.re", "accountant", name="Anne Técher")
    assert len(first) >= 20
    listed = json.loads(await dashboard.manage("operators", "list", "--json"))
    assert [(o["email"], o["name"], o["roles"], o["status"]) for o in listed] == [
        ("anne@prisme.re", "Anne Técher", ["accountant"], "active")
    ]
    assert listed[0]["must_change_password"] is True

    # the same e-mail twice, an unknown role: refused, nothing created
    out = io.StringIO()
    assert (
        await manage.execute(
            ["operators", "add", "anne@prisme.re", "--role", "admin"], dashboard.dsn, out
        )
        == 1
    )
    assert (
        await manage.execute(
            ["operators", "add", "bob@prisme.re", "--role", "boss"], dashboard.dsn, out
        )
        == 1
    )
    assert len(json.loads(await dashboard.manage("operators", "list", "--json"))) == 1

    await dashboard.manage("operators", "disable", "anne@prisme.re")
    text = await dashboard.manage("operators", "list")
    assert "disabled" in text
    await dashboard.manage("operators", "enable", "anne@prisme.re")
    printed = await dashboard.manage("operators", "reset-password", "anne@prisme.re")
    second = printed.rsplit(" ", 1)[1].strip()
    assert second != first

    conn = await asyncpg.connect(dashboard.dsn)
    try:
        stored = await conn.fetchval("SELECT password_hash FROM operators")
        assert passwords.verify_password(stored, second)
        assert not passwords.verify_password(stored, first)
        actions = [
            r["action"] for r in await conn.fetch("SELECT action FROM audit_trail ORDER BY id")
        ]
    finally:
        await conn.close()
    assert actions == [
        "operator.created",
        "operator.disabled",
        "operator.enabled",
        "operator.password_reset",
    ]


async def test_bootstrap_creates_the_first_admin_once(dashboard: Dashboard) -> None:
    created = json.loads(await dashboard.manage("bootstrap", "--email", "admin@prisme.local"))
    assert created["created"] is True
    assert created["email"] == "admin@prisme.local"
    assert len(created["password"]) >= 20
    again = json.loads(await dashboard.manage("bootstrap", "--email", "admin@prisme.local"))
    assert again == {"created": False}
    listed = json.loads(await dashboard.manage("operators", "list", "--json"))
    assert [(o["email"], o["roles"]) for o in listed] == [("admin@prisme.local", ["admin"])]


def test_the_readme_prints_the_role_scope_table() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    printed = readme.split("<!-- role-scope-table -->\n", 1)[1].split("\n<!--", 1)[0]
    assert printed.strip() == roles.markdown_table()


def test_the_root_readme_prints_the_same_table() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    printed = readme.split("<!-- role-scope-table -->\n", 1)[1].split("\n<!--", 1)[0]
    assert printed.strip() == roles.markdown_table()


async def test_in_production_admins_and_accountants_must_enrol_a_second_factor(
    dashboard_settings_factory: Any,
) -> None:
    settings = await dashboard_settings_factory(env="production", secret_key="5e" * 32)
    async with start_service(build_app(settings)) as client:
        dashboard = Dashboard(client=client, dsn=settings.database_url, settings=settings, app=None)
        phrase = "une phrase de passe assez longue"
        for email, role, home in (
            ("compta@prisme.re", "accountant", "/security?ok=totp_required"),
            ("tech@prisme.re", "technician", None),
        ):
            jar = await dashboard.sign_in_http(
                email, await dashboard.add_operator(email, role), phrase
            )
            page = await client.get("/", headers=jar)
            if home is None:
                assert page.status_code == 200
            else:
                assert (page.status_code, page.headers["location"]) == (303, home)
                assert (await client.get("/sessions", headers=jar)).headers["location"] == home
                assert (await client.get("/security", headers=jar)).status_code == 200


def test_totp_seeds_still_open_after_the_secret_key_is_rotated(
    platform_keys: tuple[str, str], tmp_path: Path
) -> None:
    def settings(**over: Any) -> DashboardSettings:
        return DashboardSettings(
            env="test",
            jwt_public_key=platform_keys[1],
            database_url="postgresql://unused/db",
            signing_key=platform_keys[0],
            data_dir=tmp_path,
            **over,
        )

    old, new = "a1" * 32, "b2" * 32
    sealed = derive_context(settings(secret_key=old)).keyring.seal_text("JBSWY3DPEHPK3PXP", "op-1")
    rotated = derive_context(settings(secret_key=new, previous_secret_keys=old)).keyring
    assert rotated.open_text(sealed, "op-1") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(SealingError):
        derive_context(settings(secret_key=new)).keyring.open_text(sealed, "op-1")
    with pytest.raises(SealingError):
        rotated.open_text(sealed, "op-2")  # bound to its operator


async def test_an_admin_ends_anyones_session_an_operator_only_their_own(
    dashboard: Dashboard,
) -> None:
    phrase = "une phrase de passe assez longue"
    admin = await dashboard.sign_in_http(
        "chef@prisme.re", await dashboard.add_operator("chef@prisme.re", "admin"), phrase
    )
    tech = await dashboard.sign_in_http(
        "tech@prisme.re", await dashboard.add_operator("tech@prisme.re", "technician"), phrase
    )
    client = dashboard.client
    own = await client.get("/sessions", headers=tech)
    assert own.text.count('action="/sessions/') == 1  # their own session only
    every = await client.get("/sessions", headers=admin)
    ids = re.findall(r'action="/sessions/([0-9a-f-]{36})/end"', every.text)
    assert len(ids) == 2
    csrf = csrf_of(own.text)
    # the technician cannot end the admin's session
    admin_session = next(i for i in ids if i not in own.text)
    refused = await client.post(
        f"/sessions/{admin_session}/end", data={"csrf_token": csrf}, headers=tech
    )
    assert refused.status_code == 403
    assert (await client.get("/", headers=admin)).status_code == 200
    # the admin ends the technician's: its next request goes back to the sign-in
    tech_session = next(i for i in ids if i != admin_session)
    ended = await client.post(
        f"/sessions/{tech_session}/end", data={"csrf_token": csrf_of(every.text)}, headers=admin
    )
    assert ended.status_code == 303
    gone = await client.get("/", headers=tech)
    assert (gone.status_code, gone.headers["location"]) == (303, "/login")
