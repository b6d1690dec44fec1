"""SQL: the log of received Stripe events and reconciliation marks (B8, R3). The Stripe work
itself is on the chassis job queue (``stripe_jobs``)."""

from __future__ import annotations

from typing import Any

import asyncpg

# --- received Stripe events (B8, R3) -----------------------------------------------------------


async def store_stripe_event(
    conn: asyncpg.Connection, event_id: str, type_: str, payload: dict[str, Any], via: str
) -> bool:
    """Store a Stripe event once (unique on Stripe's id); ``False`` when it was stored already."""
    status = await conn.execute(
        "INSERT INTO stripe_events (event_id, type, payload, received_via)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
        event_id,
        type_,
        payload,
        via,
    )
    return bool(status == "INSERT 0 1")


async def stripe_event(conn: asyncpg.Connection, event_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM stripe_events WHERE event_id = $1", event_id)


async def stripe_event_processed(conn: asyncpg.Connection, event_id: str) -> None:
    await conn.execute(
        "UPDATE stripe_events SET processed_at = coalesce(processed_at, now()) WHERE event_id = $1",
        event_id,
    )


async def reconciliation_mark(conn: asyncpg.Connection, source: str) -> int | None:
    value: int | None = await conn.fetchval(
        "SELECT checked_to FROM reconciliation_state WHERE source = $1", source
    )
    return value


async def set_reconciliation_mark(conn: asyncpg.Connection, source: str, checked_to: int) -> None:
    await conn.execute(
        "INSERT INTO reconciliation_state (source, checked_to) VALUES ($1, $2)"
        " ON CONFLICT (source) DO UPDATE SET checked_to = greatest(reconciliation_state.checked_to,"
        " EXCLUDED.checked_to), updated_at = now()",
        source,
        checked_to,
    )
