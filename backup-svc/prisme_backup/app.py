"""The backup-svc ServiceSpec."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prisme_chassis.app import Runtime, ServiceSpec, create_app, run

from . import agent_api, api, handlers, workers
from .service.context import Backups
from .settings import BackupSettings


async def _startup(rt: Runtime) -> None:
    assert isinstance(rt.settings, BackupSettings)
    rt.state["backups"] = Backups.from_settings(rt.settings)


spec = ServiceSpec(
    name="backup-svc",
    migrations=Path(__file__).parent / "migrations",
    routers=[api.router],
    public_routers=[agent_api.router],
    subscriptions=handlers.subscriptions,
    workers=[workers.watch_loop, workers.export_loop],
    on_startup=_startup,
)


def build_app(settings: BackupSettings | None = None) -> FastAPI:
    return create_app(spec, settings or BackupSettings())


def main() -> None:
    run(build_app)
