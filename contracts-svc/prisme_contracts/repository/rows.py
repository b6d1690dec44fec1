"""What every repository module shares: the row type, values made JSON-ready, rows as dicts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg

Row = asyncpg.Record


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID | date | datetime):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    return value


async def current_of_client(
    conn: asyncpg.Connection,
    table: str,
    columns: str,
    client_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[Row]:
    """The practice's rows of ``table`` not removed (its users or its assets, C5), in the order
    they were added (``created_at``, then ``id``), after the key ``after``, ``limit`` at most.
    ``table`` and ``columns`` are the caller's constants."""
    return await conn.fetch(
        f"SELECT {columns} FROM {table}"  # noqa: S608 - constant table and columns
        " WHERE client_id = $1 AND removed_at IS NULL"
        " AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4::uuid))"
        " ORDER BY created_at, id LIMIT $2",
        client_id,
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )


def record(row: Row | None, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """A record as a plain dict (for audit before/after)."""
    if row is None:
        return {}
    data = dict(row)
    return {k: data[k] for k in keys} if keys is not None else data
