"""Long-running loops: the watch (K2), the purge (K3), the maintenance of the repositories
(K1, K2); exports are chassis jobs."""

from __future__ import annotations

import asyncio
import logging

from prisme_chassis import clock, jobs
from prisme_chassis.db import transaction

from .runtime import BackupRuntime
from .service import access, exports, maintenance, watch

log = logging.getLogger(__name__)


def _interval(rt: BackupRuntime) -> float:
    return rt.settings.watch_interval


async def watch_loop(rt: BackupRuntime) -> None:
    """Every interval: rewrite the repository server's users from the plans (heals a file left
    by a rolled-back transaction), raise missed copies, destroy repositories whose history ran
    out."""
    ctx = rt.context
    while True:
        now = clock.now()
        async with transaction(rt.pool) as conn:
            await access.publish_users(conn, ctx)
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


async def maintenance_loop(rt: BackupRuntime) -> None:
    """forget/prune, quota and integrity check after each good copy, with backup-svc's access."""
    ctx = rt.context
    while True:
        async with transaction(rt.pool) as conn:
            plan = await maintenance.due(conn)
        if plan is None:
            await asyncio.sleep(min(_interval(rt), 2.0))
            continue
        now = clock.now()
        # restic outside any transaction: a prune may take minutes (see service.maintenance)
        outcome = await maintenance.run(ctx, plan, now)
        async with transaction(rt.pool) as conn:
            await maintenance.record(conn, ctx, outcome, now)
