"""The per-plan histories (runs, checks, purges, agents), each read newest first by cursor."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from .rows import Row

#: the per-plan histories listed newest first by (moment, id): table → its moment and the
#: columns shown (constants: no caller's text reaches the SQL)
HISTORIES = {
    "runs": ("started_at", "*"),
    "checks": ("checked_at", "*"),
    "purges": ("purged_at", "*"),
    "agents": ("enrolled_at", "id, hostname, status, enrolled_at, revoked_at, last_seen_at"),
}


async def newest_of_plan(
    conn: asyncpg.Connection,
    table: str,
    plan_id: uuid.UUID,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[Row]:
    """``limit`` rows of the plan's ``table`` (one of :data:`HISTORIES`), newest first (the id
    breaking ties), those after the key ``before``; each table has the index (006)."""
    at, columns = HISTORIES[table]
    return await conn.fetch(
        f"SELECT {columns} FROM {table} WHERE plan_id = $1"  # noqa: S608 - constants above
        f" AND ($3::timestamptz IS NULL OR ({at}, id) < ($3, $4::uuid))"
        f" ORDER BY {at} DESC, id DESC LIMIT $2",
        plan_id,
        limit,
        *(before or (None, None)),
    )
