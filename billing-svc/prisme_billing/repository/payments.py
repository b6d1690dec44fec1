"""SQL: payments, failures and refunds (B5, B8)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

# --- payments and refunds (B5, B8) -----------------------------------------------------------


async def insert_payment(conn: asyncpg.Connection, **fields: Any) -> bool:
    """Record a payment; ``False`` when one with the same ``external_id`` exists."""
    cols = ", ".join(fields)
    params = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    status = await conn.execute(
        f"INSERT INTO payments ({cols}) VALUES ({params}) ON CONFLICT DO NOTHING",  # noqa: S608
        *fields.values(),
    )
    return bool(status == "INSERT 0 1")


async def add_paid(conn: asyncpg.Connection, doc_id: uuid.UUID, amount: Decimal) -> Decimal:
    value: Decimal = await conn.fetchval(
        "UPDATE documents SET amount_paid = amount_paid + $2 WHERE id = $1 RETURNING amount_paid",
        doc_id,
        amount,
    )
    return value


async def payments_of(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM payments WHERE invoice_id = $1 ORDER BY created_at", invoice_id
    )


async def insert_payment_failure(
    conn: asyncpg.Connection, external_id: str, invoice_id: uuid.UUID, reason: str
) -> bool:
    status = await conn.execute(
        "INSERT INTO payment_failures (external_id, invoice_id, reason) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        external_id,
        invoice_id,
        reason,
    )
    return bool(status == "INSERT 0 1")


async def insert_refund(
    conn: asyncpg.Connection, credit_note_id: uuid.UUID, invoice_id: uuid.UUID, amount: Decimal
) -> uuid.UUID | None:
    value: uuid.UUID | None = await conn.fetchval(
        "INSERT INTO refunds (id, credit_note_id, invoice_id, amount, status)"
        " VALUES ($1, $2, $3, $4, 'pending') ON CONFLICT DO NOTHING RETURNING id",
        uuid.uuid4(),
        credit_note_id,
        invoice_id,
        amount,
    )
    return value


async def insert_manual_refund(
    conn: asyncpg.Connection, credit_note_id: uuid.UUID, invoice_id: uuid.UUID, amount: Decimal
) -> uuid.UUID | None:
    """A refund the accountant sends by transfer or cheque (the invoice was paid that way)."""
    value: uuid.UUID | None = await conn.fetchval(
        "INSERT INTO refunds (id, credit_note_id, invoice_id, amount, status, method)"
        " VALUES ($1, $2, $3, $4, 'pending', 'manual') ON CONFLICT DO NOTHING RETURNING id",
        uuid.uuid4(),
        credit_note_id,
        invoice_id,
        amount,
    )
    return value


async def record_manual_refund(
    conn: asyncpg.Connection,
    refund_id: uuid.UUID,
    *,
    paid_by: str,
    paid_on: date,
    reference: str | None,
    recorded_by: str,
) -> None:
    await conn.execute(
        "UPDATE refunds SET status = 'succeeded', paid_by = $2, paid_on = $3, reference = $4,"
        " recorded_by = $5, updated_at = now() WHERE id = $1",
        refund_id,
        paid_by,
        paid_on,
        reference,
        recorded_by,
    )


async def refunds_of(
    conn: asyncpg.Connection,
    invoice_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[asyncpg.Record]:
    """The invoice's refunds in the order they were made (``created_at``, then ``id``)."""
    return await conn.fetch(
        "SELECT * FROM refunds WHERE invoice_id = $1"
        " AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4::uuid))"
        " ORDER BY created_at, id LIMIT $2",
        invoice_id,
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )


async def refund_for(conn: asyncpg.Connection, credit_note_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM refunds WHERE credit_note_id = $1 FOR UPDATE", credit_note_id
    )


async def refund_by_stripe_id(
    conn: asyncpg.Connection, stripe_refund_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM refunds WHERE stripe_refund_id = $1 FOR UPDATE", stripe_refund_id
    )


async def update_refund(
    conn: asyncpg.Connection, refund_id: uuid.UUID, status: str, stripe_refund_id: str | None
) -> None:
    await conn.execute(
        "UPDATE refunds SET status = $2, stripe_refund_id = coalesce($3, stripe_refund_id),"
        " updated_at = now() WHERE id = $1",
        refund_id,
        status,
        stripe_refund_id,
    )


async def add_refunded(conn: asyncpg.Connection, invoice_id: uuid.UUID, amount: Decimal) -> None:
    await conn.execute(
        "UPDATE documents SET amount_refunded = amount_refunded + $2 WHERE id = $1",
        invoice_id,
        amount,
    )


async def refund_by_id(conn: asyncpg.Connection, refund_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM refunds WHERE id = $1 FOR UPDATE", refund_id)
