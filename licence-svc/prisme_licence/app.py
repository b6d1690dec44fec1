"""licence-svc on the chassis: routes, contract subscriptions, the Graph jobs (chassis job
queue) and the purge of expired initial passwords."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import asyncpg
from fastapi import FastAPI
from prisme_chassis import audit, clock, jobs
from prisme_chassis.app import ServiceSpec, create_app, run
from prisme_chassis.db import transaction

from . import api, errors, handlers
from . import repository as repo
from .context import LicenceRuntime, build_context
from .settings import LicenceSettings

log = logging.getLogger(__name__)


async def _shutdown(rt: LicenceRuntime) -> None:
    await rt.context.graph.aclose()


def _jobs(rt: LicenceRuntime) -> Sequence[jobs.JobBinding]:
    return rt.context.work.bindings()


async def purge_expired_credentials(rt: LicenceRuntime) -> None:
    """L1: an initial password unread after its time is destroyed (platform clock)."""
    while True:
        await asyncio.sleep(rt.settings.credential_purge_seconds)
        try:
            async with transaction(rt.pool) as conn:
                purged = await repo.purge_expired_credentials(conn, clock.now())
                # O3: one row per destroyed password, in one statement
                by = audit.Actor.system("credential-purge")
                await audit.record_many(
                    conn,
                    [
                        audit.row(
                            by,
                            "credentials.expired",
                            target_type="account",
                            target_id=a["id"],
                            client_id=a["client_id"],
                            detail={"upn": a["upn"]},
                        )
                        for a in purged
                    ],
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("credential purge will retry: %s", exc)


spec = ServiceSpec(
    name="licence-svc",
    version="2.1.0",
    migrations=Path(__file__).parent / "migrations",
    context=build_context,
    routers=api.routers,
    errors=errors.CATALOGUE,
    subscriptions=handlers.subscriptions,
    workers=[purge_expired_credentials],
    on_shutdown=_shutdown,
    area="licences",
    jobs=_jobs,
)


def build_app(settings: LicenceSettings | None = None) -> FastAPI:
    return create_app(spec, settings or LicenceSettings())


def main() -> None:
    run(build_app)
