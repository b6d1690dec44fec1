"""The backup-svc ServiceSpec."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prisme_chassis.app import ServiceSpec, create_app, run

from . import agent_api, api, errors, handlers, workers
from .runtime import build_context
from .settings import BackupSettings

spec = ServiceSpec(
    name="backup-svc",
    version="2.2.0",
    migrations=Path(__file__).parent / "migrations",
    context=build_context,
    routers=api.routers,
    public_routers=[agent_api.router],
    subscriptions=handlers.subscriptions,
    workers=[workers.watch_loop, workers.maintenance_loop],
    area="backups",  # /v1/jobs: backups:read to list, backups:write to retry
    jobs=workers.job_kinds,  # the exports (K3)
    errors=errors.CATALOGUE,
)


def build_app(settings: BackupSettings | None = None) -> FastAPI:
    return create_app(spec, settings or BackupSettings())


def main() -> None:
    run(build_app)
