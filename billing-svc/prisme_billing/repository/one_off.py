"""SQL: price-book items and one-off work awaiting its monthly invoice (B9)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg


async def price_items(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM price_items ORDER BY code")


async def replace_price_items(
    conn: asyncpg.Connection, items: list[tuple[str, str, str, Decimal]], actor: str
) -> None:
    await conn.execute("LOCK TABLE price_items IN SHARE ROW EXCLUSIVE MODE")
    await conn.execute("DELETE FROM price_items")
    await conn.executemany(
        "INSERT INTO price_items (code, label, unit_code, unit_ttc, updated_by)"
        " VALUES ($1, $2, $3, $4, $5)",
        [(*item, actor) for item in items],
    )


async def insert_one_off_item(conn: asyncpg.Connection, **fields: Any) -> None:
    cols = ", ".join(fields)
    params = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    await conn.execute(
        f"INSERT INTO one_off_items ({cols}) VALUES ({params}) ON CONFLICT DO NOTHING",  # noqa: S608
        *fields.values(),
    )


async def pending_months(conn: asyncpg.Connection, before: date) -> list[asyncpg.Record]:
    """(client, month) pairs with pending items of months that start before ``before``."""
    return await conn.fetch(
        "SELECT DISTINCT client_id, month FROM one_off_items"
        " WHERE status = 'pending' AND month < $1 ORDER BY month, client_id",
        before,
    )


async def pending_items(
    conn: asyncpg.Connection, client_id: uuid.UUID, month: date
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM one_off_items WHERE status = 'pending' AND client_id = $1 AND month = $2"
        " ORDER BY done_on, intervention_id, position FOR UPDATE SKIP LOCKED",
        client_id,
        month,
    )


async def mark_invoiced(
    conn: asyncpg.Connection, keys: list[tuple[uuid.UUID, int]], invoice_id: uuid.UUID
) -> None:
    await conn.executemany(
        "UPDATE one_off_items SET status = 'invoiced', invoice_id = $3"
        " WHERE intervention_id = $1 AND position = $2",
        [(i, p, invoice_id) for i, p in keys],
    )
