"""licence-svc on the chassis: routes, contract subscriptions and the Graph job runner."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prisme_chassis.app import ServiceSpec, create_app, run

from . import api, errors, handlers
from .context import LicenceRuntime, build_context
from .settings import LicenceSettings


async def _shutdown(rt: LicenceRuntime) -> None:
    await rt.context.graph.aclose()


async def run_jobs(rt: LicenceRuntime) -> None:
    await rt.context.runner.run()


spec = ServiceSpec(
    name="licence-svc",
    migrations=Path(__file__).parent / "migrations",
    context=build_context,
    routers=[api.router],
    errors=errors.CATALOGUE,
    subscriptions=handlers.subscriptions,
    workers=[run_jobs],
    on_shutdown=_shutdown,
)


def build_app(settings: LicenceSettings | None = None) -> FastAPI:
    return create_app(spec, settings or LicenceSettings())


def main() -> None:
    run(build_app)
