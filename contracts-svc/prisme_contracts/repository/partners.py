"""The listed partners (C3) and the services each provides."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from .rows import Row


async def list_partners(conn: asyncpg.Connection) -> list[str]:
    return [r["name"] for r in await conn.fetch("SELECT name FROM partners ORDER BY name")]


async def page_partners(conn: asyncpg.Connection, *, after: str | None, limit: int) -> list[Row]:
    """The listed partners by name, after the name ``after``."""
    return await conn.fetch(
        "SELECT name, services, created_by, created_at FROM partners"
        " WHERE $2::text IS NULL OR name > $2 ORDER BY name LIMIT $1",
        limit,
        after,
    )


async def get_partner(conn: asyncpg.Connection, name: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT name, services, created_by, created_at FROM partners WHERE name = $1 FOR UPDATE",
        name,
    )


async def insert_partner(
    conn: asyncpg.Connection, name: str, services: Sequence[str], actor: str
) -> bool:
    status = await conn.execute(
        "INSERT INTO partners (name, services, created_by) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        name,
        list(services),
        actor,
    )
    return status.endswith(" 1")


async def set_partner_services(
    conn: asyncpg.Connection, name: str, services: Sequence[str]
) -> None:
    await conn.execute("UPDATE partners SET services = $2 WHERE name = $1", name, list(services))


async def delete_partner(conn: asyncpg.Connection, name: str) -> bool:
    status = await conn.execute("DELETE FROM partners WHERE name = $1", name)
    return status.endswith(" 1")


async def clients_with_partner_assets(conn: asyncpg.Connection, partner: str) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT DISTINCT client_id FROM assets WHERE removed_at IS NULL AND lower(partner) = lower($1)",
        partner,
    )
    return [r["client_id"] for r in rows]
