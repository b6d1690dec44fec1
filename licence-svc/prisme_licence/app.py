"""licence-svc on the chassis: routes, contract subscriptions and the Graph job runner."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prisme_chassis.app import Runtime, ServiceSpec, create_app, run

from . import api, handlers
from .graph import GraphClient
from .jobs import JobRunner
from .settings import LicenceSettings
from .vault import Vault, load_key


async def _startup(rt: Runtime) -> None:
    settings = rt.settings
    assert isinstance(settings, LicenceSettings)
    secret = settings.graph_client_secret or "sandbox-client-secret"  # production refuses None
    graph = GraphClient(
        settings.graph_base_url,
        settings.graph_token_url,
        settings.graph_client_id,
        secret,
        timeout=settings.graph_timeout_seconds,
    )
    vault = Vault(load_key(settings))
    rt.state.update(graph=graph, vault=vault, runner=JobRunner(rt.pool, graph, vault, settings))


async def _shutdown(rt: Runtime) -> None:
    graph: GraphClient | None = rt.state.get("graph")
    if graph is not None:
        await graph.aclose()


async def run_jobs(rt: Runtime) -> None:
    runner: JobRunner = rt.state["runner"]
    await runner.run()


spec = ServiceSpec(
    name="licence-svc",
    migrations=Path(__file__).parent / "migrations",
    routers=[api.router],
    subscriptions=handlers.subscriptions,
    workers=[run_jobs],
    on_startup=_startup,
    on_shutdown=_shutdown,
)


def build_app(settings: LicenceSettings | None = None) -> FastAPI:
    return create_app(spec, settings or LicenceSettings())


def main() -> None:
    run(build_app)
