"""Alerts (missed, failed, check failed, over quota), raised once each, resolved."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

import asyncpg

from .rows import Row


async def raise_alert(
    conn: asyncpg.Connection,
    *,
    plan_id: uuid.UUID,
    client_id: uuid.UUID,
    kind: str,
    day: date | None,
    detail: str,
    dedupe_key: str,
) -> bool:
    """Insert the alert once per ``dedupe_key``; ``True`` when it is new."""
    row = await conn.fetchrow(
        """
        INSERT INTO alerts (id, plan_id, client_id, kind, day, detail, dedupe_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id
        """,
        uuid.uuid4(),
        plan_id,
        client_id,
        kind,
        day,
        detail,
        dedupe_key,
    )
    return row is not None


async def resolve_alerts(
    conn: asyncpg.Connection, plan_id: uuid.UUID, kinds: Sequence[str], day: date | None
) -> None:
    await conn.execute(
        """
        UPDATE alerts SET resolved_at = now()
         WHERE plan_id = $1 AND kind = ANY($2::text[]) AND resolved_at IS NULL
           AND ($3::date IS NULL OR day = $3)
        """,
        plan_id,
        list(kinds),
        day,
    )


async def list_alerts(
    conn: asyncpg.Connection,
    *,
    client_id: uuid.UUID | None,
    plan_id: uuid.UUID | None,
    open_only: bool,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> list[Row]:
    """Newest first (the id breaking ties), those after the key ``before``."""
    return await conn.fetch(
        """
        SELECT * FROM alerts
         WHERE ($1::uuid IS NULL OR client_id = $1) AND ($2::uuid IS NULL OR plan_id = $2)
           AND (NOT $3 OR resolved_at IS NULL)
           AND ($5::timestamptz IS NULL OR (raised_at, id) < ($5, $6::uuid))
         ORDER BY raised_at DESC, id DESC LIMIT $4
        """,
        client_id,
        plan_id,
        open_only,
        limit,
        *(before or (None, None)),
    )
