"""The client's last full export (K3): a tar of the latest snapshot, made by a worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from prisme_chassis.errors import Conflict, NotFound
from prisme_chassis.sealing import SealedFileWriter, read_sealed_file

from .. import repository
from ..agent.restic import Repository, Restic, ResticError
from ..sealed import export_context, open_repository_password
from .context import Backups
from .watch import export_dir


async def request_export(
    conn: asyncpg.Connection, plan_id: uuid.UUID, actor: str
) -> asyncpg.Record:
    plan = await repository.get_plan(conn, plan_id)
    if plan is None:
        raise NotFound(f"no backup plan {plan_id}")
    if plan["status"] == "purged":
        raise Conflict("the copies were destroyed; nothing left to export")
    return await repository.insert_export(conn, uuid.uuid4(), plan_id, actor)


async def get_export(conn: asyncpg.Connection, export_id: uuid.UUID) -> asyncpg.Record:
    row = await repository.get_export(conn, export_id)
    if row is None:
        raise NotFound(f"no export {export_id}")
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


async def run_next_export(conn: asyncpg.Connection, ctx: Backups) -> uuid.UUID | None:
    """Produce the oldest pending export, inside the caller's transaction (a crash leaves it
    pending, to be redone)."""
    export = await repository.claim_export(conn)
    if export is None:
        return None
    plan = await repository.get_plan(conn, export["plan_id"])
    assert plan is not None
    restic = Restic(
        Repository(
            location=plan["repository_location"],
            password=open_repository_password(ctx.keyring, plan["id"], plan["repository_password"]),
            env=ctx.repository_env,
        ),
        binary=ctx.restic_binary,
    )
    export_id: uuid.UUID = export["id"]
    target = archive_path(ctx, plan["id"], export_id)
    try:
        snapshots = await restic.snapshots()
        if not snapshots:
            raise ResticError("snapshots", 0, "the repository holds no snapshot")
        latest = snapshots[-1]
        size = await _dump_sealed(restic, ctx, latest.id, export_id, target)
    except ResticError as exc:
        await repository.finish_export(
            conn, export_id, status="failed", snapshot_id=None, size_bytes=None, error=str(exc)
        )
        return export_id
    await repository.finish_export(
        conn, export_id, status="ready", snapshot_id=latest.id, size_bytes=size, error=None
    )
    return export_id
