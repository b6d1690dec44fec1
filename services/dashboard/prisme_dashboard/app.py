"""The dashboard's ``ServiceSpec``: its pages, its database, its security middleware."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prisme_chassis.app import Runtime, ServiceSpec, create_app
from prisme_chassis.db import transaction

from . import clock, tokens
from .context import DashboardContext, build_context, close_context
from .settings import DashboardSettings
from .web import (
    account_pages,
    admin_pages,
    approval_pages,
    audit_pages,
    backup_pages,
    billing_pages,
    contract_pages,
    event_pages,
    handlers,
    home_pages,
    licence_pages,
    oidc_pages,
    operator_admin_pages,
    practice_pages,
    signin_pages,
    video_pages,
)
from .web.security import SecurityHeaders

NAME = "dashboard"


async def republish_revocations(rt: Runtime[DashboardSettings, DashboardContext]) -> None:
    """Once at start-up: every revoked token back in the bucket."""
    async with transaction(rt.pool) as conn:
        await tokens.republish(conn, rt.js, clock.now())


spec: ServiceSpec[DashboardSettings, DashboardContext] = ServiceSpec(
    name=NAME,
    migrations=Path(__file__).parent / "migrations",
    context=build_context,
    public_routers=[
        signin_pages.router,
        oidc_pages.router,
        account_pages.router,
        admin_pages.router,
        home_pages.router,
        practice_pages.router,
        contract_pages.router,
        approval_pages.router,
        event_pages.router,
        video_pages.router,
        licence_pages.router,
        billing_pages.router,
        backup_pages.router,
        audit_pages.router,
        operator_admin_pages.router,
    ],
    body_limits=lambda settings: {
        f"POST {video_pages.UPLOAD_PATH}": settings.video_upload_max_bytes
    },
    workers=[republish_revocations],
    on_shutdown=close_context,
)


def build_app(settings: DashboardSettings | None = None) -> FastAPI:
    app = create_app(spec, settings or DashboardSettings())
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static"
    )
    app.add_middleware(SecurityHeaders)
    handlers.install(app)
    return app
