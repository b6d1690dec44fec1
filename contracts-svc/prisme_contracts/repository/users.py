"""A practice's users (the inventory's people)."""

# ruff: noqa: S608

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from .rows import Row, current_of_client

_USER_COLS = "id, client_id, first_name, last_name, email, role, created_at"


async def insert_user(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO client_users (id, client_id, first_name, last_name, email, role)"
        f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_USER_COLS}",
        values["id"],
        values["client_id"],
        values["first_name"],
        values["last_name"],
        values["email"],
        values["role"],
    )
    assert row is not None
    return row


async def get_user(
    conn: asyncpg.Connection, client_id: uuid.UUID, user_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {_USER_COLS} FROM client_users"
        " WHERE client_id = $1 AND id = $2 AND removed_at IS NULL",
        client_id,
        user_id,
    )


async def list_users(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[Row]:
    """The practice's current users, in the order they were added, after the key ``after``."""
    return await current_of_client(
        conn, "client_users", _USER_COLS, client_id, after=after, limit=limit
    )


async def update_user(conn: asyncpg.Connection, user_id: uuid.UUID, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        "UPDATE client_users SET first_name = $2, last_name = $3, email = $4, role = $5"
        f" WHERE id = $1 RETURNING {_USER_COLS}",
        user_id,
        values["first_name"],
        values["last_name"],
        values["email"],
        values["role"],
    )
    assert row is not None
    return row


async def remove_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    await conn.execute("UPDATE client_users SET removed_at = now() WHERE id = $1", user_id)
