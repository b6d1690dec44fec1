"""Dashboard test fixtures: the dashboard in-process on real PostgreSQL and NATS, operators
created through its own command line, and a real headless Chromium (Debian's, via Playwright)."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, async_playwright
from prisme_dashboard import manage
from prisme_dashboard.app import build_app
from prisme_dashboard.settings import DashboardSettings
from prisme_testing.browser import launch
from prisme_testing.plugin import start_service

ARTEFACTS = Path(__file__).resolve().parents[3] / ".artifacts" / "screenshots"


@dataclass
class Dashboard:
    client: httpx.AsyncClient
    dsn: str
    settings: DashboardSettings
    app: Any

    @property
    def url(self) -> str:
        return str(self.client.base_url).rstrip("/")

    async def manage(self, *argv: str) -> str:
        out = io.StringIO()
        code = await manage.execute(list(argv), self.dsn, out)
        assert code == 0, out.getvalue()
        return out.getvalue()

    async def add_operator(self, email: str, *roles: str, name: str | None = None) -> str:
        """Create an operator with the command line; its one-time password."""
        args = ["operators", "add", email]
        for role in roles or ("technician",):
            args += ["--role", role]
        if name:
            args += ["--name", name]
        printed = await self.manage(*args)
        match = re.search(r"une seule fois\) : (\S+)", printed)
        assert match, printed
        return match.group(1)

    async def sign_in_http(self, email: str, initial: str, new: str) -> dict[str, str]:
        """Sign in through the pages with httpx (first password change included); the headers
        (session cookie, Origin) of the signed-in operator."""
        origin = {"Origin": self.url}
        page = await self.client.get("/login")
        jar = {"Cookie": f"__Host-prisme_login={page.cookies['__Host-prisme_login']}", **origin}
        form = {"email": email, "password": initial, "csrf_token": csrf_of(page.text)}
        signed = await self.client.post("/login", data=form, headers=jar)
        assert signed.status_code == 303, signed.text
        jar = {
            "Cookie": f"__Host-prisme_session={signed.cookies['__Host-prisme_session']}",
            **origin,
        }
        change = await self.client.get("/password", headers=jar)
        form = {
            "current_password": initial,
            "new_password": new,
            "confirm_password": new,
            "csrf_token": csrf_of(change.text),
        }
        changed = await self.client.post("/password", data=form, headers=jar)
        assert changed.status_code == 303, changed.text
        return {
            "Cookie": f"__Host-prisme_session={changed.cookies['__Host-prisme_session']}",
            **origin,
        }


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:300]
    return match.group(1)


@pytest.fixture
def dashboard_settings_factory(
    base_settings: dict[str, Any],
    platform_keys: tuple[str, str],
    new_database: Callable[[], Awaitable[str]],
) -> Callable[..., Awaitable[DashboardSettings]]:
    async def make(**over: Any) -> DashboardSettings:
        values: dict[str, Any] = {
            **base_settings,
            "database_url": await new_database(),
            "signing_key": platform_keys[0],
            # small numbers so the throttle shows within a test; the delay is long enough
            # that a loaded machine never outlives it between two attempts
            "login_free_failures": 3,
            "login_base_delay_seconds": 120,
        }
        values.update(over)
        return DashboardSettings(**values)

    return make


@pytest.fixture
async def dashboard(
    dashboard_settings_factory: Callable[..., Awaitable[DashboardSettings]],
) -> AsyncIterator[Dashboard]:
    settings = await dashboard_settings_factory()
    app = build_app(settings)
    async with start_service(app) as client:
        yield Dashboard(client=client, dsn=settings.database_url, settings=settings, app=app)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (no browser download), its dates in
    French; open its contexts with ``prisme_testing.browser.new_context`` (fr-FR, Réunion)."""
    async with async_playwright() as playwright:
        launched = await launch(playwright)
        yield launched
        await launched.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[..., Awaitable[None]]:
    """``await shot(page, "step")`` saves .artifacts/screenshots/<test>-<n>-<step>.png."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    counter = [0]
    test = re.sub(r"[^a-zA-Z0-9_]+", "_", request.node.name)

    async def save(page: Any, step: str) -> None:
        counter[0] += 1
        await page.screenshot(path=str(ARTEFACTS / f"{test}-{counter[0]:02d}-{step}.png"))

    return save
