"""The practices (clients): identity, corrections (C8) and search."""

# ruff: noqa: S608

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from .rows import Row

_CLIENT_COLS = "id, name, siren, manager_name, manager_email, manager_phone, line1, postal_code, city, created_at"


async def insert_client(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        f"INSERT INTO clients ({_CLIENT_COLS.removesuffix(', created_at')})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        f" RETURNING {_CLIENT_COLS}",
        values["id"],
        values["name"],
        values["siren"],
        values["manager_name"],
        values["manager_email"],
        values["manager_phone"],
        values["line1"],
        values["postal_code"],
        values["city"],
    )
    assert row is not None
    return row


_CLIENT_FIELDS = (
    "name",
    "siren",
    "manager_name",
    "manager_email",
    "manager_phone",
    "line1",
    "postal_code",
    "city",
)


async def update_client(
    conn: asyncpg.Connection, client_id: uuid.UUID, fields: dict[str, Any]
) -> Row:
    """C8: change the given identity columns of a practice."""
    unknown = set(fields) - set(_CLIENT_FIELDS)
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = sorted(fields)
    sets = ", ".join(f"{n} = ${i + 2}" for i, n in enumerate(names))
    row = await conn.fetchrow(
        f"UPDATE clients SET {sets} WHERE id = $1 RETURNING {_CLIENT_COLS}",
        client_id,
        *(fields[n] for n in names),
    )
    assert row is not None
    return row


async def get_client(
    conn: asyncpg.Connection, client_id: uuid.UUID, *, lock: bool = False
) -> Row | None:
    sql = f"SELECT {_CLIENT_COLS} FROM clients WHERE id = $1"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), client_id)


def _like(text: str) -> str:
    """``text`` as a literal ILIKE pattern found anywhere (its wildcards escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def list_clients(
    conn: asyncpg.Connection,
    limit: int,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    q: str | None = None,
    ids: list[uuid.UUID] | None = None,
) -> list[Row]:
    """Oldest first (``created_at``, then ``id``), those after the key ``after``; ``q`` finds a practice by name, SIREN, city or a current user's e-mail
    (case-insensitive, anywhere in the text); ``ids`` keeps only those practices."""
    pattern = _like(q.strip()) if q and q.strip() else None
    digits = "".join(ch for ch in q if ch.isdigit()) if q else ""
    return await conn.fetch(
        f"SELECT {_CLIENT_COLS} FROM clients c"
        " WHERE ($3::text IS NULL OR c.name ILIKE $3 OR c.city ILIKE $3"
        "   OR ($4::text <> '' AND c.siren LIKE $4 || '%')"
        "   OR EXISTS (SELECT 1 FROM client_users u WHERE u.client_id = c.id"
        "     AND u.removed_at IS NULL AND u.email ILIKE $3))"
        " AND ($5::uuid[] IS NULL OR c.id = ANY($5))"
        " AND ($2::timestamptz IS NULL OR (c.created_at, c.id) > ($2, $6::uuid))"
        " ORDER BY c.created_at, c.id LIMIT $1",
        limit,
        after[0] if after else None,
        pattern,
        digits if len(digits) >= 3 else "",
        ids,
        after[1] if after else None,
    )
