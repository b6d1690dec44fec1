"""Exports of a plan's latest copy (K3)."""

from __future__ import annotations

import uuid

import asyncpg

from .rows import Row


async def insert_export(
    conn: asyncpg.Connection, export_id: uuid.UUID, plan_id: uuid.UUID, requested_by: str
) -> Row:
    row = await conn.fetchrow(
        """
        INSERT INTO exports (id, plan_id, status, requested_by) VALUES ($1, $2, 'pending', $3)
        RETURNING *
        """,
        export_id,
        plan_id,
        requested_by,
    )
    assert row is not None
    return row


async def get_export(conn: asyncpg.Connection, export_id: uuid.UUID) -> Row | None:
    return await conn.fetchrow("SELECT * FROM exports WHERE id = $1", export_id)


async def mark_export_running(conn: asyncpg.Connection, export_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE exports SET status = 'running' WHERE id = $1 AND status IN ('pending', 'running',"
        " 'failed')",
        export_id,
    )


async def finish_export(
    conn: asyncpg.Connection,
    export_id: uuid.UUID,
    *,
    status: str,
    snapshot_id: str | None,
    size_bytes: int | None,
    error: str | None,
) -> None:
    await conn.execute(
        """
        UPDATE exports SET status = $2, snapshot_id = $3, size_bytes = $4, error = $5,
                           finished_at = now()
         WHERE id = $1
        """,
        export_id,
        status,
        snapshot_id,
        size_bytes,
        error,
    )
