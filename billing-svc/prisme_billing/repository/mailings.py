"""SQL: the e-mails of documents and reminders (B11, B10)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import asyncpg


async def insert_mailing(
    conn: asyncpg.Connection,
    *,
    mailing_id: uuid.UUID,
    document_id: uuid.UUID,
    purpose: str,
    reminder_stage: int | None,
    requested_by: str,
    requested_at: datetime,
    message_id: str,
) -> bool:
    """False when this document's automatic sending (or this reminder) exists already."""
    status = await conn.execute(
        """
        INSERT INTO mailings (id, document_id, purpose, reminder_stage, requested_by,
                              requested_at, message_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT DO NOTHING
        """,
        mailing_id,
        document_id,
        purpose,
        reminder_stage,
        requested_by,
        requested_at,
        message_id,
    )
    return bool(status == "INSERT 0 1")


async def mailing(conn: asyncpg.Connection, mailing_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM mailings WHERE id = $1", mailing_id)


async def mailings_of(
    conn: asyncpg.Connection, document_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    rows = await conn.fetch(
        "SELECT * FROM mailings WHERE document_id = ANY($1::uuid[]) ORDER BY requested_at, id",
        list(document_ids),
    )
    out: dict[uuid.UUID, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        out[r["document_id"]].append(r)
    return out


async def mark_mailing_sent(
    conn: asyncpg.Connection, mailing_id: uuid.UUID, recipient: str, sent_at: datetime
) -> None:
    await conn.execute(
        "UPDATE mailings SET status = 'sent', recipient = $2, sent_at = $3, last_error = NULL"
        " WHERE id = $1 AND status <> 'sent'",
        mailing_id,
        recipient,
        sent_at,
    )


async def mark_mailing_failed(conn: asyncpg.Connection, mailing_id: uuid.UUID, error: str) -> None:
    await conn.execute(
        "UPDATE mailings SET status = 'failed', last_error = $2 WHERE id = $1 AND status <> 'sent'",
        mailing_id,
        error[:500],
    )
