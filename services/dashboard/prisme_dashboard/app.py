"""The dashboard's ``ServiceSpec``: its pages, its database, its security middleware."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prisme_chassis.app import ServiceSpec, create_app

from .context import DashboardContext, build_context
from .settings import DashboardSettings
from .web import account_pages, handlers, signin_pages
from .web.security import SecurityHeaders

NAME = "dashboard"

spec: ServiceSpec[DashboardSettings, DashboardContext] = ServiceSpec(
    name=NAME,
    migrations=Path(__file__).parent / "migrations",
    context=build_context,
    public_routers=[signin_pages.router, account_pages.router],
)


def build_app(settings: DashboardSettings | None = None) -> FastAPI:
    app = create_app(spec, settings or DashboardSettings())
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static"
    )
    app.add_middleware(SecurityHeaders)
    handlers.install(app)
    return app
