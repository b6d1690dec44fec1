"""The watch (K2: missed copies) and the end of the history (K3: purge)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import asyncpg
from prisme_chassis import audit
from prisme_chassis.bus import enqueue, next_version
from prisme_events import BackupPurged

from .. import domain, repository
from ..agent.restic import Repository, Restic
from ..sealed import open_repository_password
from .alerts import raise_missed
from .context import Backups

log = logging.getLogger(__name__)

# The watch never looks further back than this: older gaps were reported long ago.
_LOOKBACK = timedelta(days=domain.HISTORY_DAYS + 10)


async def find_missed(conn: asyncpg.Connection, now: datetime) -> list[tuple[str, date]]:
    """Raise ``backup.missed`` for every owed day without a good copy. Returns what was new."""
    raised: list[tuple[str, date]] = []
    for plan in await repository.plans_to_watch(conn):
        first = max(plan["expected_from"], domain.business_day(now - _LOOKBACK))
        covered = await repository.covered_days(conn, plan["id"], first)
        days = domain.missed_days(
            first_day=first,
            daily_at=plan["daily_at"],
            grace=timedelta(minutes=plan["grace_minutes"]),
            now=now,
            covered=covered,
            last_day=plan["last_day"] if plan["status"] == "ended" else None,
        )
        for day in days:
            if await raise_missed(conn, plan, day, "no copy received", kind="missed"):
                raised.append((str(plan["id"]), day))
    return raised


async def destroy_repository(ctx: Backups, plan: asyncpg.Record) -> None:
    """Destroy every copy of a plan's repository (K3)."""
    location: str = plan["repository_location"]
    repo = Repository(
        location=location,
        password=open_repository_password(ctx.keyring, plan["id"], plan["repository_password"]),
        env=ctx.repository_env,
    )
    if repo.is_local:
        await asyncio.to_thread(shutil.rmtree, Path(location.removeprefix("local:")), True)
        return
    # A remote backend: forget every snapshot and prune, so no pack of data is left.
    restic = Restic(repo, binary=ctx.restic_binary)
    if not await restic.exists():
        return
    await restic.forget_ids([s.id for s in await restic.snapshots()])


async def purge_due(conn: asyncpg.Connection, ctx: Backups, now: datetime) -> list[str]:
    """Destroy the repositories of ended plans whose history has run out; record each (K3)."""
    purged: list[str] = []
    for plan in await repository.plans_due_for_purge(conn, now):
        await destroy_repository(ctx, plan)
        count = await repository.mark_purged(conn, plan, now)
        await _delete_exports(ctx, plan["id"])
        await enqueue(
            conn,
            BackupPurged(
                plan_id=plan["id"],
                version=await next_version(conn, "backup_plan", plan["id"]),
                client_id=plan["client_id"],
                snapshots=count,
            ),
        )
        await audit.record(
            conn,
            audit.Actor.system("backup-purge"),
            "backup.plan_purged",
            target_type="backup_plan",
            target_id=plan["id"],
            client_id=plan["client_id"],
            before={"status": plan["status"]},
            detail={"snapshots": count, "purge_after": plan["purge_after"]},
        )
        log.info("purged the repository of plan %s (%d snapshots)", plan["id"], count)
        purged.append(str(plan["id"]))
    return purged


def export_dir(ctx: Backups) -> Path:
    return ctx.data_dir / "exports"


async def _delete_exports(ctx: Backups, plan_id: object) -> None:
    directory = export_dir(ctx) / str(plan_id)
    await asyncio.to_thread(shutil.rmtree, directory, True)
