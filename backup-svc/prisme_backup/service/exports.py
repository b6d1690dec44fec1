"""The client's last full export (K3): a tar of the latest snapshot, made by a worker."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
from prisme_chassis.errors import Conflict, NotFound

from .. import repository, vault
from ..agent.restic import Repository, Restic, ResticError
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
    return export_dir(ctx) / str(plan_id) / f"{export_id}.tar"


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
            password=vault.unseal(ctx.key, plan["repository_password"], str(plan["id"])),
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
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        await restic.dump_archive(latest.id, target)
        size = (await asyncio.to_thread(target.stat)).st_size
    except ResticError as exc:
        await repository.finish_export(
            conn, export_id, status="failed", snapshot_id=None, size_bytes=None, error=str(exc)
        )
        return export_id
    await repository.finish_export(
        conn, export_id, status="ready", snapshot_id=latest.id, size_bytes=size, error=None
    )
    return export_id
