"""OpenID Connect sign-in against a local provider, in a real headless Chromium: a group mapped
to a role signs in; an ID token from another issuer or with another nonce is refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page
from prisme_dashboard.app import build_app
from prisme_dashboard.settings import DashboardSettings
from prisme_testing.browser import new_context
from prisme_testing.plugin import start_service

from .oidc_provider import Provider, create_app

Shot = Callable[[Any, str], Awaitable[None]]


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    state = Provider(
        client_id="prisme-dashboard",
        client_secret="secret-of-the-test-client",
        person={
            "sub": "entra-object-id-42",
            "email": "Julie.Payet@prisme.re",
            "name": "Julie Payet",
            "groups": ["grp-techniciens", "grp-sans-role"],
        },
    )
    async with start_service(create_app(state)) as client:
        state.url = str(client.base_url).rstrip("/")
        yield state


@pytest.fixture
async def dashboard_url(
    provider: Provider, dashboard_settings_factory: Callable[..., Awaitable[DashboardSettings]]
) -> AsyncIterator[tuple[str, str]]:
    settings = await dashboard_settings_factory(
        oidc_issuer=provider.url,
        oidc_client_id=provider.client_id,
        oidc_client_secret=provider.client_secret,
        oidc_group_roles={"grp-techniciens": "technician", "grp-compta": "accountant"},
        oidc_label="Microsoft Entra ID",
    )
    async with start_service(build_app(settings)) as client:
        yield str(client.base_url).rstrip("/"), settings.database_url


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await new_context(browser)
    yield await context.new_page()
    await context.close()


async def test_a_mapped_group_signs_in_with_its_role(
    page: Page, provider: Provider, dashboard_url: tuple[str, str], shot: Shot
) -> None:
    url, dsn = dashboard_url
    await page.goto(url + "/login")
    await shot(page, "login-with-oidc")
    await page.get_by_role("link", name="Se connecter avec Microsoft Entra ID").click()
    await page.wait_for_url(url + "/")
    assert "Bonjour Julie Payet" in await page.locator("h1").inner_text()
    assert "Technicien" in await page.locator("main").inner_text()
    await shot(page, "signed-in-by-oidc")
    assert len(provider.seen_challenges) == 1  # PKCE was used
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow("SELECT * FROM operators")
        methods = await conn.fetch(
            "SELECT detail FROM audit_trail WHERE action = 'sign_in.succeeded'"
        )
    finally:
        await conn.close()
    assert row is not None
    assert (row["email"], list(row["roles"]), row["password_hash"]) == (
        "julie.payet@prisme.re",
        ["technician"],
        None,
    )
    assert (row["oidc_issuer"], row["oidc_subject"]) == (provider.url, "entra-object-id-42")
    assert [json.loads(m["detail"])["method"] for m in methods] == ["oidc"]


@pytest.mark.parametrize("what", ["issuer", "nonce", "groups"])
async def test_a_wrong_issuer_nonce_or_no_mapped_group_is_refused(
    page: Page, provider: Provider, dashboard_url: tuple[str, str], shot: Shot, what: str
) -> None:
    url, dsn = dashboard_url
    if what == "issuer":
        provider.token_issuer = "https://login.microsoftonline.com/another-tenant/v2.0"
    elif what == "nonce":
        provider.token_nonce = "a-nonce-from-another-flow"
    else:
        provider.person["groups"] = ["grp-sans-role"]
    await page.goto(url + "/login")
    await page.get_by_role("link", name="Se connecter avec Microsoft Entra ID").click()
    await page.wait_for_url(lambda u: "/login/oidc/callback" in u)
    assert "Connexion refusée" in await page.locator("h1").inner_text()
    await shot(page, f"refused-{what}")
    await page.goto(url + "/")
    assert page.url == url + "/login"
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM sessions") == 0
    finally:
        await conn.close()
