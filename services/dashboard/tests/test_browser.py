"""The dashboard's sign-in in a real headless Chromium (DESIGN §7, R7).

Each step is saved as a screenshot under .artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pyotp
import pytest
from playwright.async_api import Browser, Page
from prisme_dashboard.passwords import MIN_LENGTH, common_passwords
from prisme_testing.browser import date_field_parts, new_context

from .conftest import Dashboard

NEW_PASSWORD = "un cheval bleu traverse la baie"
Shot = Callable[[Any, str], Awaitable[None]]


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await new_context(browser)
    opened = await context.new_page()
    yield opened
    await context.close()


async def sign_in(page: Page, dashboard: Dashboard, email: str, password: str) -> None:
    await page.goto(dashboard.url + "/login")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(password)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_load_state()


async def change_password(page: Page, current: str, new: str) -> None:
    await page.get_by_label("Mot de passe actuel").fill(current)
    await page.get_by_label("Nouveau mot de passe", exact=True).fill(new)
    await page.get_by_label("Confirmez le nouveau mot de passe").fill(new)
    await page.get_by_role("button", name="Enregistrer").click()
    await page.wait_for_load_state()


async def ready_operator(page: Page, dashboard: Dashboard, email: str, *roles: str) -> None:
    """An operator signed in with its own password (first change done)."""
    initial = await dashboard.add_operator(email, *roles)
    await sign_in(page, dashboard, email, initial)
    await change_password(page, initial, NEW_PASSWORD)
    assert page.url == dashboard.url + "/?ok=password_changed"


async def session_cookie(page: Page) -> dict[str, Any]:
    cookies = [c for c in await page.context.cookies() if c["name"] == "__Host-prisme_session"]
    assert len(cookies) == 1, cookies
    return dict(cookies[0])


async def test_first_sign_in_forces_a_password_change(
    page: Page, dashboard: Dashboard, shot: Shot
) -> None:
    initial = await dashboard.add_operator("claire@prisme.re", "technician", name="Claire Hoarau")
    await page.goto(dashboard.url + "/")
    assert page.url == dashboard.url + "/login"  # nobody signed in: the sign-in page
    await shot(page, "login")
    await sign_in(page, dashboard, "claire@prisme.re", initial)
    assert page.url == dashboard.url + "/password"
    await shot(page, "forced-change")
    await expect_heading(page, "Choisissez votre mot de passe")

    # any other page sends back to the change form
    await page.goto(dashboard.url + "/sessions")
    assert page.url == dashboard.url + "/password"

    await change_password(page, initial, "court")
    await expect_error(page, f"au moins {MIN_LENGTH} caractères")
    common = next(p for p in sorted(common_passwords()) if len(p) >= MIN_LENGTH)
    await change_password(page, initial, common)
    await expect_error(page, "mots de passe courants")
    await shot(page, "refused-common-password")

    await change_password(page, initial, NEW_PASSWORD)
    assert page.url == dashboard.url + "/?ok=password_changed"
    await expect_heading(page, "Bonjour Claire Hoarau")
    await shot(page, "home")

    # the initial password is gone for good
    await page.get_by_role("button", name="Se déconnecter").click()
    await sign_in(page, dashboard, "claire@prisme.re", initial)
    await expect_error(page, "E-mail ou mot de passe incorrect")
    await sign_in(page, dashboard, "claire@prisme.re", NEW_PASSWORD)
    assert page.url == dashboard.url + "/"


async def test_wrong_password_refused_then_slowed_then_429(
    page: Page, dashboard: Dashboard, shot: Shot
) -> None:
    initial = await dashboard.add_operator("marc@prisme.re", "accountant")
    free = dashboard.settings.login_free_failures
    for attempt in range(free):
        await sign_in(page, dashboard, "marc@prisme.re", f"mauvais mot de passe {attempt}")
        assert page.url == dashboard.url + "/login"
        await expect_error(page, "E-mail ou mot de passe incorrect")
    await shot(page, "refused")

    # the next attempt comes before the growing delay has passed: 429, even with the right one
    response = await submit_login(page, dashboard, "marc@prisme.re", initial)
    assert response.status == 429
    assert int(response.headers["retry-after"]) > 0
    await expect_heading(page, "Trop de tentatives")
    await shot(page, "too-many")
    assert not [c for c in await page.context.cookies() if c["name"] == "__Host-prisme_session"]


async def submit_login(page: Page, dashboard: Dashboard, email: str, password: str) -> Any:
    await page.goto(dashboard.url + "/login")
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(password)
    async with page.expect_response(lambda r: r.url.endswith("/login")) as info:
        await page.get_by_role("button", name="Se connecter").click()
    return await info.value


async def test_totp_enrolment_then_sign_in_with_a_code(
    page: Page, dashboard: Dashboard, shot: Shot
) -> None:
    await ready_operator(page, dashboard, "lea@prisme.re", "admin")
    await page.get_by_role("link", name="Sécurité").click()
    await shot(page, "security")
    await page.get_by_label("Mot de passe actuel").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Activer la double authentification").click()
    await page.wait_for_load_state()
    assert await page.locator(".qr svg").count() == 1
    await shot(page, "qr-code")
    seed = (await page.locator("code.secret").inner_text()).strip()
    totp = pyotp.TOTP(seed)
    await page.get_by_label("Code à six chiffres").fill(totp.now())
    await page.get_by_role("button", name="Activer").click()
    await page.wait_for_load_state()
    codes = [c.strip() for c in await page.locator("ol.codes code").all_inner_texts()]
    assert len(codes) == 10
    await shot(page, "recovery-codes")

    await page.get_by_role("button", name="Se déconnecter").click()
    await sign_in(page, dashboard, "lea@prisme.re", NEW_PASSWORD)
    assert page.url == dashboard.url + "/login/code"
    await shot(page, "code-asked")
    # not signed in yet: the pages still send to the sign-in
    await page.goto(dashboard.url + "/")
    assert page.url == dashboard.url + "/login"
    await sign_in(page, dashboard, "lea@prisme.re", NEW_PASSWORD)
    await page.get_by_label("Code").fill("000000")
    await page.get_by_role("button", name="Valider").click()
    await expect_error(page, "Code incorrect")
    # the code of the enrolment's time step is spent; the next step's is accepted (±1 step)
    await page.get_by_label("Code").fill(totp.at(time.time() + 30))
    await page.get_by_role("button", name="Valider").click()
    await page.wait_for_load_state()
    assert page.url == dashboard.url + "/"
    await expect_text(page, "activée")
    await shot(page, "signed-in-with-code")

    # a recovery code works once
    await page.get_by_role("button", name="Se déconnecter").click()
    await sign_in(page, dashboard, "lea@prisme.re", NEW_PASSWORD)
    await page.get_by_label("Code").fill(codes[0])
    await page.get_by_role("button", name="Valider").click()
    await page.wait_for_load_state()
    assert page.url == dashboard.url + "/"


async def test_dates_are_french_and_times_reunions(
    page: Page, dashboard: Dashboard, shot: Shot
) -> None:
    """A date field reads jj/mm/aaaa (not mm/dd/yyyy) and the browser is in La Réunion."""
    await ready_operator(page, dashboard, "noe@prisme.re", "admin")
    await page.goto(dashboard.url + "/journal")
    await page.get_by_label("Du").fill("2026-03-15")
    await shot(page, "journal-date-fields")
    assert await date_field_parts(page, "Du") == ["Jour", "Mois", "Année"]
    assert await date_field_parts(page, "Au") == ["Jour", "Mois", "Année"]
    seen = await page.evaluate(
        "[navigator.language, Intl.DateTimeFormat().resolvedOptions().timeZone,"
        " new Date(Date.UTC(2026, 2, 15, 20)).toLocaleString()]"
    )
    assert seen == ["fr-FR", "Indian/Reunion", "16/03/2026 00:00:00"]


async def test_sign_out_ends_the_session(page: Page, dashboard: Dashboard, shot: Shot) -> None:
    await ready_operator(page, dashboard, "paul@prisme.re")
    cookie = await session_cookie(page)
    await page.get_by_role("button", name="Se déconnecter").click()
    await page.wait_for_load_state()
    assert page.url == dashboard.url + "/login?ok=signed_out"
    await expect_text(page, "Vous êtes déconnecté")
    await shot(page, "signed-out")

    # the old cookie, put back by hand, no longer opens anything
    await page.context.add_cookies([cookie])  # type: ignore[list-item]
    await page.goto(dashboard.url + "/")
    assert page.url == dashboard.url + "/login"
    old = await dashboard.client.get("/", headers={"Cookie": f"{cookie['name']}={cookie['value']}"})
    assert old.status_code == 303
    assert old.headers["location"] == "/login"


async def test_a_disabled_operators_open_session_stops_at_the_next_request(
    page: Page, dashboard: Dashboard, shot: Shot
) -> None:
    await ready_operator(page, dashboard, "zoe@prisme.re")
    await page.goto(dashboard.url + "/sessions")
    await shot(page, "sessions")
    await dashboard.manage("operators", "disable", "zoe@prisme.re")
    await page.reload()
    assert page.url == dashboard.url + "/login"
    await shot(page, "after-disable")
    await sign_in(page, dashboard, "zoe@prisme.re", NEW_PASSWORD)
    await expect_error(page, "E-mail ou mot de passe incorrect")


async def test_forms_without_their_csrf_token_or_from_another_origin_are_refused(
    page: Page, dashboard: Dashboard, shot: Shot
) -> None:
    await ready_operator(page, dashboard, "ines@prisme.re")
    cookie = await session_cookie(page)

    # the sign-out form with its token removed: refused, still signed in
    await page.evaluate(
        "document.querySelector('form[action=\"/logout\"] input[name=csrf_token]').remove()"
    )
    async with page.expect_response(lambda r: r.url.endswith("/logout")) as info:
        await page.get_by_role("button", name="Se déconnecter").click()
    assert (await info.value).status == 403
    await expect_heading(page, "Requête refusée")
    await shot(page, "csrf-refused")
    await page.goto(dashboard.url + "/")
    assert page.url == dashboard.url + "/"

    # a page of another site posting the sign-out form: the session survives
    async def evil(route: Any) -> None:
        await route.fulfill(
            content_type="text/html",
            body=f'<form method="post" action="{dashboard.url}/logout"><button>Go</button></form>',
        )

    await page.route("http://evil.example/**", evil)
    await page.goto("http://evil.example/")
    async with page.expect_response(lambda r: r.url.endswith("/logout")):
        await page.get_by_role("button", name="Go").click()
    await page.goto(dashboard.url + "/")
    assert page.url == dashboard.url + "/"

    # the same form with the right cookie and token, from another Origin: refused
    home = await dashboard.client.get(
        "/", headers={"Cookie": f"{cookie['name']}={cookie['value']}"}
    )
    token = home.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    jar = {"Cookie": f"{cookie['name']}={cookie['value']}"}
    forged = await dashboard.client.post(
        "/logout", data={"csrf_token": token}, headers={**jar, "Origin": "http://evil.example"}
    )
    assert forged.status_code == 403
    no_origin = await dashboard.client.post("/logout", data={"csrf_token": token}, headers=jar)
    assert no_origin.status_code == 403
    genuine = await dashboard.client.post(
        "/logout", data={"csrf_token": token}, headers={**jar, "Origin": dashboard.url}
    )
    assert genuine.status_code == 303
    assert (await dashboard.client.get("/", headers=jar)).status_code == 303


async def test_the_session_cookie_flags(page: Page, dashboard: Dashboard) -> None:
    await ready_operator(page, dashboard, "noe@prisme.re")
    cookie = await session_cookie(page)
    assert cookie["httpOnly"] is True
    assert cookie["secure"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["expires"] == -1  # a browser-session cookie; the server enforces lifetimes
    assert len(cookie["value"]) >= 43  # 256 bits, base64url
    # __Host-: no Domain attribute was sent (the raw header, as the server wrote it)
    login = await dashboard.client.get("/login")
    raw = [v for k, v in login.headers.multi_items() if k == "set-cookie"]
    assert raw
    assert all("Domain" not in v and "Secure" in v and "HttpOnly" in v for v in raw)
    assert "script-src 'self'" in login.headers["content-security-policy"]


async def expect_heading(page: Page, text: str) -> None:
    assert text in await page.locator("h1").inner_text()


async def expect_error(page: Page, text: str) -> None:
    assert text in await page.locator(".error").first.inner_text()


async def expect_text(page: Page, text: str) -> None:
    assert text in await page.locator("main").inner_text()
