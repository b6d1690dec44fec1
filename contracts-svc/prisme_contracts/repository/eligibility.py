"""Eligibility overrides (C3) and their expiry (C4)."""

# ruff: noqa: S608

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from .rows import Row

_OVERRIDE_COLS = "id, criterion, reason, created_by, created_at, expires_at"


async def active_overrides(
    conn: asyncpg.Connection, client_id: uuid.UUID, now: datetime | None = None
) -> list[Row]:
    """The client's overrides in force: not revoked and not lapsed (the expiry worker lapses
    them on the clock), and, when ``now`` is given, not past their expiry either."""
    return await conn.fetch(
        f"SELECT {_OVERRIDE_COLS} FROM eligibility_overrides"
        " WHERE client_id = $1 AND revoked_at IS NULL AND lapsed_at IS NULL"
        " AND ($2::timestamptz IS NULL OR expires_at IS NULL OR expires_at > $2)"
        " ORDER BY criterion",
        client_id,
        now,
    )


async def get_override(
    conn: asyncpg.Connection, client_id: uuid.UUID, criterion: str
) -> Row | None:
    """The live (not revoked, not lapsed) override of one criterion, locked."""
    return await conn.fetchrow(
        f"SELECT {_OVERRIDE_COLS} FROM eligibility_overrides"
        " WHERE client_id = $1 AND criterion = $2 AND revoked_at IS NULL AND lapsed_at IS NULL"
        " FOR UPDATE",
        client_id,
        criterion,
    )


async def insert_override(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    criterion: str,
    reason: str,
    expires_at: datetime | None,
    actor: str,
) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO eligibility_overrides (id, client_id, criterion, reason, expires_at, created_by)"
        f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_OVERRIDE_COLS}",
        uuid.uuid4(),
        client_id,
        criterion,
        reason,
        expires_at,
        actor,
    )
    assert row is not None
    return row


async def revoke_override(conn: asyncpg.Connection, override_id: uuid.UUID, actor: str) -> None:
    await conn.execute(
        "UPDATE eligibility_overrides SET revoked_at = now(), revoked_by = $2 WHERE id = $1",
        override_id,
        actor,
    )


async def lapse_expired_overrides(
    conn: asyncpg.Connection, now: datetime, limit: int = 100
) -> list[Row]:
    """Mark the overrides whose expiry has passed; their clients must be re-checked (C4)."""
    return await conn.fetch(
        "UPDATE eligibility_overrides SET lapsed_at = $1 WHERE id IN ("
        " SELECT id FROM eligibility_overrides WHERE revoked_at IS NULL AND lapsed_at IS NULL"
        " AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, client_id, criterion",
        now,
        limit,
    )
