"""Tenants: a practice's Microsoft 365 tenant, its domain and licence SKU."""

from __future__ import annotations

import uuid

import asyncpg

from .db import Conn


async def upsert_tenant(
    conn: Conn, client_id: uuid.UUID, graph_tenant: str, domain: str, sku: str
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO tenants (client_id, graph_tenant, domain, sku_part_number)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (client_id) DO UPDATE SET graph_tenant = EXCLUDED.graph_tenant,
            domain = EXCLUDED.domain, sku_part_number = EXCLUDED.sku_part_number, updated_at = now()
        RETURNING *
        """,
        client_id,
        graph_tenant,
        domain,
        sku,
    )
    assert row is not None
    return row


async def get_tenant(conn: Conn, client_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM tenants WHERE client_id = $1", client_id)


async def list_tenants(conn: Conn) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM tenants ORDER BY client_id"))
