"""The client's last full export (K3): a tar of the latest snapshot, made by a chassis job.

Asking for an export writes its row and enqueues a ``backup.export`` job in one transaction;
the job reads the plan in a short transaction, runs restic (snapshots, dump) with no
transaction open, seals the stream to disk as it comes, and records the result with its
outcome. A restic failure is retried with back-off; after the last attempt the export is
marked failed and the dead job is on ``GET /v1/jobs`` for an operator to retry.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from prisme_chassis import jobs
from prisme_chassis.db import transaction
from prisme_chassis.sealing import SealedFileWriter, read_sealed_file

from .. import errors, repository
from ..agent.restic import Repository, Restic
from ..sealed import export_context, open_repository_password
from .context import Backups
from .watch import export_dir

#: K3: produce one export (restic snapshots + dump, sealed on disk). Its lease is renewed
#: while restic runs; a process killed mid-dump leaves the job to be taken over and redone.
EXPORT = jobs.JobKind(
    "backup.export", max_attempts=6, backoff_base=30.0, backoff_cap=1800.0, concurrency=2
)


async def request_export(
    conn: asyncpg.Connection, plan_id: uuid.UUID, actor: str
) -> asyncpg.Record:
    plan = await repository.get_plan(conn, plan_id)
    if plan is None:
        raise errors.PlanNotFound(f"no backup plan {plan_id}")
    if plan["status"] == "purged":
        raise errors.CopiesDestroyed("the copies were destroyed; nothing left to export")
    row = await repository.insert_export(conn, uuid.uuid4(), plan_id, actor)
    # One job per export, keyed by its id: the archive it writes is named by it too.
    await jobs.enqueue(conn, EXPORT, f"export:{row['id']}", {"export_id": str(row["id"])})
    return row


async def get_export(conn: asyncpg.Connection, export_id: uuid.UUID) -> asyncpg.Record:
    row = await repository.get_export(conn, export_id)
    if row is None:
        raise errors.ExportNotFound(f"no export {export_id}")
    return row


def archive_path(ctx: Backups, plan_id: uuid.UUID, export_id: uuid.UUID) -> Path:
    """Where the export lies, sealed (``prisme_chassis.sealing`` file format, K3: health data
    never on disk in clear)."""
    return export_dir(ctx) / str(plan_id) / f"{export_id}.tar.sealed"


def read_archive(ctx: Backups, plan_id: uuid.UUID, export_id: uuid.UUID) -> Iterator[bytes]:
    """The tar archive in clear, chunk by chunk (blocking)."""
    path = archive_path(ctx, plan_id, export_id)
    return read_sealed_file(ctx.keyring, path, export_context(export_id))


async def _dump_sealed(
    restic: Restic, ctx: Backups, snapshot: str, export_id: uuid.UUID, target: Path
) -> int:
    """restic's tar stream, sealed chunk by chunk as it comes: never on disk in clear."""
    await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
    writer = await asyncio.to_thread(
        SealedFileWriter, ctx.keyring, target, export_context(export_id)
    )
    try:
        async for data in restic.dump_chunks(snapshot):
            await asyncio.to_thread(writer.write, data)
        return await asyncio.to_thread(writer.close)
    except BaseException:
        await asyncio.to_thread(writer.abort)
        raise


async def produce(pool: asyncpg.Pool, ctx: Backups, job: jobs.Job) -> jobs.Outcome:
    """The ``backup.export`` job: never restic inside a database transaction."""
    export_id = uuid.UUID(job.payload["export_id"])
    async with transaction(pool) as conn:
        export = await repository.get_export(conn, export_id)
        if export is None or export["status"] in ("ready", "purged"):
            return jobs.Done()
        plan = await repository.get_plan(conn, export["plan_id"])
        if plan is None or plan["status"] == "purged":
            return jobs.Fail(
                "the copies were destroyed; nothing left to export",
                apply=_failed(export_id, "the copies were destroyed"),
            )
        await repository.mark_export_running(conn, export_id)
        password = open_repository_password(ctx.keyring, plan["id"], plan["repository_password"])
    restic = Restic(
        Repository(location=plan["repository_location"], password=password, env=ctx.repository_env),
        binary=ctx.restic_binary,
    )
    target = archive_path(ctx, plan["id"], export_id)
    snapshots = await restic.snapshots()  # a ResticError is a failed run: retried with back-off
    if not snapshots:
        return jobs.Fail(
            "the repository holds no snapshot",
            apply=_failed(export_id, "the repository holds no snapshot"),
        )
    latest = snapshots[-1]
    size = await _dump_sealed(restic, ctx, latest.id, export_id, target)

    async def ready(conn: asyncpg.Connection) -> None:
        await repository.finish_export(
            conn, export_id, status="ready", snapshot_id=latest.id, size_bytes=size, error=None
        )

    return jobs.Done(apply=ready)


def _failed(export_id: uuid.UUID, error: str) -> jobs.Apply:
    async def apply(conn: asyncpg.Connection) -> None:
        await repository.finish_export(
            conn, export_id, status="failed", snapshot_id=None, size_bytes=None, error=error
        )

    return apply


async def export_dead(conn: asyncpg.Connection, job: jobs.Job, error: str) -> None:
    """The last attempt failed (restic kept failing): the export is failed, with the error."""
    await _failed(uuid.UUID(job.payload["export_id"]), error)(conn)
