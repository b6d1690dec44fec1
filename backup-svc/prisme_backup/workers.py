"""Long-running loops: the watch (K2), the purge (K3); exports are chassis jobs."""

from __future__ import annotations

import asyncio
import logging

from prisme_chassis import clock, jobs
from prisme_chassis.db import transaction

from .runtime import BackupRuntime
from .service import exports, watch

log = logging.getLogger(__name__)


def _interval(rt: BackupRuntime) -> float:
    return rt.settings.watch_interval


async def watch_loop(rt: BackupRuntime) -> None:
    """Every interval: raise missed copies, destroy repositories whose history ran out."""
    ctx = rt.context
    while True:
        now = clock.now()
        async with transaction(rt.pool) as conn:
            await watch.find_missed(conn, now)
        async with transaction(rt.pool) as conn:
            await watch.purge_due(conn, ctx, now)
        await asyncio.sleep(_interval(rt))


def job_kinds(rt: BackupRuntime) -> list[jobs.JobBinding]:
    """The job kinds backup-svc runs (``ServiceSpec.jobs``): the exports (K3)."""

    async def produce(job: jobs.Job) -> jobs.Outcome:
        return await exports.produce(rt.pool, rt.context, job)

    return [exports.EXPORT.handle(produce, on_dead=exports.export_dead)]
