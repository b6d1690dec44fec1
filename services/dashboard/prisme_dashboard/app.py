"""The dashboard's ``ServiceSpec``: its pages, its database, its security middleware."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prisme_chassis.app import Runtime, ServiceSpec, create_app

from . import sealing
from .settings import DashboardSettings
from .web import account_pages, handlers, signin_pages
from .web.security import SecurityHeaders

NAME = "dashboard"


def _spec() -> ServiceSpec:
    async def on_startup(rt: Runtime) -> None:
        return None

    return ServiceSpec(
        name=NAME,
        migrations=Path(__file__).parent / "migrations",
        public_routers=[signin_pages.router, account_pages.router],
        on_startup=on_startup,
    )


def build_app(settings: DashboardSettings | None = None) -> FastAPI:
    settings = settings or DashboardSettings()
    app = create_app(_spec(), settings)
    secret = settings.secret_key_bytes()
    app.state.secret_key = sealing.derive_key(secret, "prisme-dashboard/login-csrf")
    app.state.seal_key = sealing.derive_key(secret, "prisme-dashboard/totp-seed")
    app.state.oidc = None
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static"
    )
    app.add_middleware(SecurityHeaders)
    handlers.install(app)
    return app
