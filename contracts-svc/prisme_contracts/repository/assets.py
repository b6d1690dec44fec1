"""A practice's assets: servers, workstations and other equipment (the inventory)."""

# ruff: noqa: S608

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from .rows import Row, current_of_client

_ASSET_COLS = "id, client_id, name, function, kind, form, os, supplied_by, partner, created_at"


async def insert_asset(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO assets (id, client_id, name, function, kind, form, os, supplied_by, partner)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_ASSET_COLS}",
        values["id"],
        values["client_id"],
        values["name"],
        values["function"],
        values["kind"],
        values["form"],
        values["os"],
        values["supplied_by"],
        values["partner"],
    )
    assert row is not None
    return row


async def get_asset(
    conn: asyncpg.Connection, client_id: uuid.UUID, asset_id: uuid.UUID
) -> Row | None:
    return await conn.fetchrow(
        f"SELECT {_ASSET_COLS} FROM assets WHERE client_id = $1 AND id = $2 AND removed_at IS NULL",
        client_id,
        asset_id,
    )


async def list_assets(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    limit: int | None = None,
) -> list[Row]:
    """The practice's current assets, in the order they were added, after the key ``after``."""
    return await current_of_client(conn, "assets", _ASSET_COLS, client_id, after=after, limit=limit)


async def update_asset(
    conn: asyncpg.Connection, asset_id: uuid.UUID, values: dict[str, Any]
) -> Row:
    row = await conn.fetchrow(
        "UPDATE assets SET name = $2, function = $3, kind = $4, form = $5, os = $6,"
        f" supplied_by = $7, partner = $8 WHERE id = $1 RETURNING {_ASSET_COLS}",
        asset_id,
        values["name"],
        values["function"],
        values["kind"],
        values["form"],
        values["os"],
        values["supplied_by"],
        values["partner"],
    )
    assert row is not None
    return row


async def remove_asset(conn: asyncpg.Connection, asset_id: uuid.UUID) -> None:
    await conn.execute("UPDATE assets SET removed_at = now() WHERE id = $1", asset_id)
