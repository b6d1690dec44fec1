"""Interventions (C5, C7): remote or on-site work recorded for a practice."""

# ruff: noqa: S608

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from .rows import Row, _jsonable


async def insert_intervention(
    conn: asyncpg.Connection, client_id: uuid.UUID, technician: str, description: str
) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO interventions (id, client_id, technician, description) VALUES ($1, $2, $3, $4)"
        " RETURNING id, technician, performed_at, description",
        uuid.uuid4(),
        client_id,
        technician,
        description,
    )
    assert row is not None
    return row


_INTERVENTION_COLS = (
    "id, client_id, contract_id, kind, technician, started_at, duration_minutes, mode, zone,"
    " description, billable, video_id, recorded_by, performed_at"
)


async def insert_service_intervention(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    """C7: a remote or on-site intervention with its billable items."""
    row = await conn.fetchrow(
        "INSERT INTO interventions (id, client_id, contract_id, kind, technician, started_at,"
        " duration_minutes, mode, zone, description, billable, video_id, recorded_by)"
        " VALUES ($1, $2, $3, 'service', $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        f" RETURNING {_INTERVENTION_COLS}",
        values["id"],
        values["client_id"],
        values["contract_id"],
        values["technician"],
        values["started_at"],
        values["duration_minutes"],
        values["mode"],
        values["zone"],
        values["summary"],
        _jsonable(values["billable"]),
        values["video_id"],
        values["recorded_by"],
    )
    assert row is not None
    return row


async def list_interventions(
    conn: asyncpg.Connection,
    *,
    client_id: uuid.UUID | None,
    since: datetime | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Row]:
    """Newest first; ``after`` is the (started_at, id) of the last row of the previous page."""
    return await conn.fetch(
        f"SELECT {_INTERVENTION_COLS} FROM interventions"
        " WHERE ($1::uuid IS NULL OR client_id = $1)"
        " AND ($2::timestamptz IS NULL OR started_at >= $2)"
        " AND ($3::timestamptz IS NULL OR (started_at, id) < ($3, $4::uuid))"
        " ORDER BY started_at DESC, id DESC LIMIT $5",
        client_id,
        since,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
