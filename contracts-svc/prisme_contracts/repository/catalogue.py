"""The catalogue as data (C1): offers, catalogue items and maintenance levels."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from .rows import Row


async def list_offers(
    conn: asyncpg.Connection, *, after: tuple[int, str] | None = None, limit: int | None = None
) -> list[Row]:
    """The offers in the catalogue's order (``position``, then ``code``), after ``after``."""
    return await conn.fetch(
        "SELECT code, label, includes, position FROM offers"
        " WHERE $2::integer IS NULL OR (position, code) > ($2, $3::text)"
        " ORDER BY position, code LIMIT $1",
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )


async def catalogue_labels(conn: asyncpg.Connection) -> dict[str, str]:
    return {
        r["code"]: r["label"] for r in await conn.fetch("SELECT code, label FROM catalogue_items")
    }


async def get_offer(conn: asyncpg.Connection, code: str) -> Row | None:
    return await conn.fetchrow("SELECT code, label, includes FROM offers WHERE code = $1", code)


async def catalogue_codes(conn: asyncpg.Connection) -> set[str]:
    return {r["code"] for r in await conn.fetch("SELECT code FROM catalogue_items")}


async def insert_offer(
    conn: asyncpg.Connection, code: str, label: str, includes: Sequence[str]
) -> bool:
    status = await conn.execute(
        "INSERT INTO offers (code, label, includes, position)"
        " SELECT $1, $2, $3, coalesce(max(position), 0) + 1 FROM offers"
        " ON CONFLICT DO NOTHING",
        code,
        label,
        list(includes),
    )
    return status.endswith(" 1")


async def update_offer(
    conn: asyncpg.Connection, code: str, label: str, includes: Sequence[str]
) -> None:
    await conn.execute(
        "UPDATE offers SET label = $2, includes = $3 WHERE code = $1", code, label, list(includes)
    )


async def list_levels(
    conn: asyncpg.Connection, *, after: tuple[int, str] | None = None, limit: int | None = None
) -> list[Row]:
    """The maintenance levels in their order (``position``, then ``code``), after ``after``."""
    return await conn.fetch(
        "SELECT code, label, description, is_default, position FROM maintenance_levels"
        " WHERE $2::integer IS NULL OR (position, code) > ($2, $3::text)"
        " ORDER BY position, code LIMIT $1",
        limit,
        after[0] if after else None,
        after[1] if after else None,
    )


async def get_level(conn: asyncpg.Connection, code: str) -> Row | None:
    return await conn.fetchrow(
        "SELECT code, label, description, is_default FROM maintenance_levels WHERE code = $1",
        code,
    )


async def default_level(conn: asyncpg.Connection) -> str:
    code = await conn.fetchval("SELECT code FROM maintenance_levels WHERE is_default")
    assert code is not None, "migration 006 seeds a default level"
    return str(code)


async def insert_level(conn: asyncpg.Connection, code: str, label: str, description: str) -> bool:
    status = await conn.execute(
        "INSERT INTO maintenance_levels (code, label, description, position)"
        " SELECT $1, $2, $3, coalesce(max(position), 0) + 1 FROM maintenance_levels"
        " ON CONFLICT DO NOTHING",
        code,
        label,
        description,
    )
    return status.endswith(" 1")


async def update_level(
    conn: asyncpg.Connection, code: str, label: str, description: str, is_default: bool
) -> None:
    if is_default:
        await conn.execute(
            "UPDATE maintenance_levels SET is_default = false WHERE code <> $1", code
        )
    await conn.execute(
        "UPDATE maintenance_levels SET label = $2, description = $3,"
        " is_default = is_default OR $4 WHERE code = $1",
        code,
        label,
        description,
        is_default,
    )
