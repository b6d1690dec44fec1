"""What licence-svc's use cases and workers need besides a connection, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from prisme_chassis.app import Resources, Runtime, runtime_dependency

from .graph import GraphClient
from .graph_work import GraphWork
from .passwords import PasswordSealer, load_keyring
from .settings import LicenceSettings


@dataclass(frozen=True)
class LicenceContext:
    graph: GraphClient
    vault: PasswordSealer
    work: GraphWork


async def build_context(resources: Resources[LicenceSettings]) -> LicenceContext:
    settings = resources.settings
    secret = settings.graph_client_secret or "sandbox-client-secret"  # production refuses None
    graph = GraphClient(
        settings.graph_base_url,
        settings.graph_token_url,
        settings.graph_client_id,
        secret,
        timeout=settings.graph_timeout_seconds,
    )
    vault = PasswordSealer(load_keyring(settings))
    return LicenceContext(
        graph=graph, vault=vault, work=GraphWork(resources.pool, graph, vault, settings)
    )


LicenceRuntime = Runtime[LicenceSettings, LicenceContext]
#: What licence-svc's routes declare to receive the typed runtime.
LicenceRuntimeDep = Annotated[
    LicenceRuntime, Depends(runtime_dependency(LicenceSettings, LicenceContext))
]
