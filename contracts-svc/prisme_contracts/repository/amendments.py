"""Amendments (C5): what an intervention changed in a contract's inventory."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from .rows import Row, _jsonable


async def insert_amendment(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO amendments (id, contract_id, intervention_id, effective_date, changes,"
        " postes_before, postes_after, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        values["id"],
        values["contract_id"],
        values["intervention_id"],
        values["effective_date"],
        _jsonable(values["changes"]),
        values["postes_before"],
        values["postes_after"],
        values["version"],
    )


async def list_amendments(
    conn: asyncpg.Connection,
    contract_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[Row]:
    """The contract's amendments in the order they were made, after the key ``after``."""
    return await conn.fetch(
        "SELECT a.id, a.contract_id, a.effective_date, a.changes, a.postes_before, a.postes_after,"
        " a.version, a.created_at, i.id AS intervention_id, i.technician, i.performed_at, i.description"
        " FROM amendments a JOIN interventions i ON i.id = a.intervention_id"
        " WHERE a.contract_id = $1"
        " AND ($3::timestamptz IS NULL OR (a.created_at, a.id) > ($3, $4::uuid))"
        " ORDER BY a.created_at, a.id LIMIT $2",
        contract_id,
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )
