"""The catalogue of a plan's restic snapshots."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from .rows import Row


async def insert_snapshot(
    conn: asyncpg.Connection,
    *,
    plan_id: uuid.UUID,
    snapshot_id: str,
    run_id: uuid.UUID,
    taken_at: datetime,
    bytes_added: int,
    total_bytes: int,
    files: int,
) -> None:
    await conn.execute(
        """
        INSERT INTO snapshots (plan_id, snapshot_id, run_id, taken_at, bytes_added, total_bytes,
                               files)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (plan_id, snapshot_id) DO NOTHING
        """,
        plan_id,
        snapshot_id,
        run_id,
        taken_at,
        bytes_added,
        total_bytes,
        files,
    )


async def forget_snapshots(
    conn: asyncpg.Connection, plan_id: uuid.UUID, ids: Sequence[str], now: datetime
) -> None:
    """Mark forgotten the catalogue entries whose (short) id prefixes one of ``ids``."""
    if not ids:
        return
    await conn.execute(
        """
        UPDATE snapshots s SET forgotten_at = $3
          FROM unnest($2::text[]) AS f(full_id)
         WHERE s.plan_id = $1 AND s.forgotten_at IS NULL
           AND left(f.full_id, length(s.snapshot_id)) = s.snapshot_id
        """,
        plan_id,
        list(ids),
        now,
    )


async def list_snapshots(
    conn: asyncpg.Connection,
    plan_id: uuid.UUID,
    *,
    limit: int,
    before: tuple[datetime, str] | None = None,
) -> list[Row]:
    """The kept copies, newest first (the snapshot id breaking ties), after ``before``."""
    return await conn.fetch(
        """
        SELECT * FROM snapshots WHERE plan_id = $1 AND forgotten_at IS NULL
           AND ($3::timestamptz IS NULL OR (taken_at, snapshot_id) < ($3, $4::text))
         ORDER BY taken_at DESC, snapshot_id DESC LIMIT $2
        """,
        plan_id,
        limit,
        *(before or (None, None)),
    )
