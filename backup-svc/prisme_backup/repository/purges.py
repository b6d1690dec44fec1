"""The end of a plan's history (K3): the repository destroyed, and the record of it."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from .rows import Row


async def plans_due_for_purge(conn: asyncpg.Connection, now: datetime) -> list[Row]:
    return await conn.fetch(
        """
        SELECT * FROM plans WHERE status = 'ended' AND purge_after <= $1
         ORDER BY purge_after FOR UPDATE SKIP LOCKED
        """,
        now,
    )


async def mark_purged(conn: asyncpg.Connection, plan: Row, now: datetime) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM snapshots WHERE plan_id = $1 AND forgotten_at IS NULL", plan["id"]
    )
    await conn.execute(
        "UPDATE snapshots SET forgotten_at = $2 WHERE plan_id = $1 AND forgotten_at IS NULL",
        plan["id"],
        now,
    )
    await conn.execute(
        "UPDATE exports SET status = 'purged' WHERE plan_id = $1 AND status = 'ready'", plan["id"]
    )
    await conn.execute(
        "UPDATE plans SET status = 'purged', purged_at = $2, updated_at = now() WHERE id = $1",
        plan["id"],
        now,
    )
    await conn.execute(
        """
        INSERT INTO purges (id, plan_id, client_id, repository_location, snapshots, purged_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        uuid.uuid4(),
        plan["id"],
        plan["client_id"],
        plan["repository_location"],
        int(count or 0),
        now,
    )
    return int(count or 0)
