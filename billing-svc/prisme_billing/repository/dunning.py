"""SQL: overdue invoices and their reminders (B10)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import asyncpg


async def unpaid_past_due(conn: asyncpg.Connection, today: date) -> list[asyncpg.Record]:
    """Open invoices whose due date has passed, locked (concurrent runs skip them)."""
    return await conn.fetch(
        """
        SELECT * FROM documents
        WHERE kind = 'invoice' AND status IN ('open', 'payment_failed') AND due_date < $1
        ORDER BY due_date FOR UPDATE SKIP LOCKED
        """,
        today,
    )


async def mark_overdue(conn: asyncpg.Connection, doc_id: uuid.UUID, since: date) -> bool:
    status = await conn.execute(
        "UPDATE documents SET overdue_since = $2 WHERE id = $1 AND overdue_since IS NULL",
        doc_id,
        since,
    )
    return bool(status == "UPDATE 1")


async def insert_reminder(
    conn: asyncpg.Connection,
    invoice_id: uuid.UUID,
    stage_days: int,
    due_on: date,
    outstanding: Decimal,
    penalty: Decimal,
) -> bool:
    status = await conn.execute(
        "INSERT INTO reminders (invoice_id, stage_days, due_on, outstanding, penalty)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        invoice_id,
        stage_days,
        due_on,
        outstanding,
        penalty,
    )
    return bool(status == "INSERT 0 1")


async def reminders_of(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM reminders WHERE invoice_id = $1 ORDER BY stage_days", invoice_id
    )
