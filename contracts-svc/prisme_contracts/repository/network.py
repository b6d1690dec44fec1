"""A practice's declared network (LAN count and bandwidth, C3)."""

from __future__ import annotations

import uuid

import asyncpg

from .rows import Row


async def get_network(conn: asyncpg.Connection, client_id: uuid.UUID) -> Row | None:
    return await conn.fetchrow(
        "SELECT lan_count, download_mbps, upload_mbps, updated_at FROM networks WHERE client_id = $1",
        client_id,
    )


async def upsert_network(
    conn: asyncpg.Connection, client_id: uuid.UUID, lan: int, down: int, up: int
) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO networks (client_id, lan_count, download_mbps, upload_mbps) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (client_id) DO UPDATE SET lan_count = EXCLUDED.lan_count,"
        " download_mbps = EXCLUDED.download_mbps, upload_mbps = EXCLUDED.upload_mbps, updated_at = now()"
        " RETURNING lan_count, download_mbps, upload_mbps, updated_at",
        client_id,
        lan,
        down,
        up,
    )
    assert row is not None
    return row
