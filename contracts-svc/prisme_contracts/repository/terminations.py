"""Cessation requests (C6): the four-eyes queue, their documents and their application."""

# ruff: noqa: S608

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from .rows import Row

_TERMINATION_COLS = (
    "id, contract_id, reason, effective_date, status, document_type, document_name, document_size,"
    " document_sha256, requested_by, requested_at, approved_by, approved_at, decided_by,"
    " decided_at, decision_note, applied_at"
)


async def insert_termination(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO terminations (id, contract_id, reason, effective_date, status, document,"
        " document_type, document_name, document_size, document_sha256, requested_by)"
        " VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10)"
        f" RETURNING {_TERMINATION_COLS}",
        values["id"],
        values["contract_id"],
        values["reason"],
        values["effective_date"],
        values["document"],
        values["document_type"],
        values["document_name"],
        values["document_size"],
        values["document_sha256"],
        values["requested_by"],
    )
    assert row is not None
    return row


async def get_termination(
    conn: asyncpg.Connection, termination_id: uuid.UUID, *, lock: bool = False
) -> Row | None:
    sql = f"SELECT {_TERMINATION_COLS} FROM terminations WHERE id = $1"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), termination_id)


async def list_terminations(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    contract_id: uuid.UUID | None,
    client_id: uuid.UUID | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[Row]:
    """Cessation requests, oldest first (``requested_at``, then ``id``), after the key ``after`` (the four-eyes queue with ``status='pending'``)."""
    cols = ", ".join(f"t.{c.strip()}" for c in _TERMINATION_COLS.split(","))
    return await conn.fetch(
        f"SELECT {cols} FROM terminations t JOIN contracts c ON c.id = t.contract_id"
        " WHERE ($1::text IS NULL OR t.status = $1) AND ($2::uuid IS NULL OR t.contract_id = $2)"
        " AND ($3::uuid IS NULL OR c.client_id = $3)"
        " AND ($5::timestamptz IS NULL OR (t.requested_at, t.id) > ($5, $6::uuid))"
        " ORDER BY t.requested_at, t.id LIMIT $4",
        status,
        contract_id,
        client_id,
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )


async def get_termination_document(
    conn: asyncpg.Connection, termination_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        "SELECT document, document_type, document_name FROM terminations WHERE id = $1",
        termination_id,
    )


async def clear_termination_documents(
    conn: asyncpg.Connection, magic: bytes, limit: int
) -> list[Row]:
    """Documents stored before sealing (they do not begin with the envelope's magic)."""
    return await conn.fetch(
        "SELECT id, document FROM terminations"
        " WHERE substring(document FROM 1 FOR $1) <> $2 ORDER BY id LIMIT $3 FOR UPDATE",
        len(magic),
        magic,
        limit,
    )


async def set_termination_document(
    conn: asyncpg.Connection, termination_id: uuid.UUID, document: bytes
) -> None:
    await conn.execute(
        "UPDATE terminations SET document = $2 WHERE id = $1", termination_id, document
    )


async def decide_termination(
    conn: asyncpg.Connection,
    termination_id: uuid.UUID,
    *,
    status: str,
    actor: str,
    note: str | None,
    at: datetime,
) -> Row:
    """Approve, reject or withdraw a pending request (the caller checked it is pending)."""
    approved = status == "approved"
    row = await conn.fetchrow(
        "UPDATE terminations SET status = $2, decided_by = $3::text,"
        " decided_at = $5::timestamptz, decision_note = $4,"
        " approved_by = CASE WHEN $6::boolean THEN $3::text END,"
        " approved_at = CASE WHEN $6::boolean THEN $5::timestamptz END"
        f" WHERE id = $1 RETURNING {_TERMINATION_COLS}",
        termination_id,
        status,
        actor,
        note,
        at,
        approved,
    )
    assert row is not None
    return row


async def mark_termination_applied(
    conn: asyncpg.Connection, termination_id: uuid.UUID, at: datetime
) -> Row:
    row = await conn.fetchrow(
        f"UPDATE terminations SET applied_at = $2 WHERE id = $1 RETURNING {_TERMINATION_COLS}",
        termination_id,
        at,
    )
    assert row is not None
    return row


async def due_terminations(conn: asyncpg.Connection, today: date, limit: int) -> list[Row]:
    """Approved cessations whose effective date has come, not applied yet (C6), locked."""
    return await conn.fetch(
        f"SELECT {_TERMINATION_COLS} FROM terminations"
        " WHERE status = 'approved' AND applied_at IS NULL AND effective_date <= $1"
        " ORDER BY effective_date, id LIMIT $2 FOR UPDATE SKIP LOCKED",
        today,
        limit,
    )
