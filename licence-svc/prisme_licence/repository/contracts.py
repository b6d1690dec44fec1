"""Contracts as licence-svc keeps them from contracts-svc's events, and the users removed from
them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from .db import Conn


async def get_contract(conn: Conn, contract_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contracts WHERE contract_id = $1 FOR UPDATE", contract_id
    )


async def locked_contract(conn: Conn, contract_id: uuid.UUID) -> asyncpg.Record | None:
    """The stored contract, events of one contract serialised (even before its first row)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", str(contract_id))
    return await get_contract(conn, contract_id)


async def locked_contracts(
    conn: Conn, contract_ids: list[uuid.UUID]
) -> dict[uuid.UUID, asyncpg.Record]:
    """:func:`locked_contract` for many contracts (a batch of ``contract.ended``): the same
    per-contract locks, taken in one order so two batches never deadlock."""
    await conn.execute(
        """SELECT pg_advisory_xact_lock(hashtextextended(i, 0))
           FROM (SELECT i FROM unnest($1::text[]) AS t(i) ORDER BY i) s""",
        sorted(str(c) for c in contract_ids),
    )
    rows = await conn.fetch(
        "SELECT * FROM contracts WHERE contract_id = ANY($1::uuid[]) FOR UPDATE", contract_ids
    )
    return {r["contract_id"]: r for r in rows}


async def save_contracts(
    conn: Conn, rows: Sequence[tuple[uuid.UUID, uuid.UUID, int, bool, str, int]]
) -> None:
    """:func:`save_contract` for many: (contract, client, year, includes_m365, status, version)."""
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    await conn.execute(
        """
        INSERT INTO contracts (contract_id, client_id, year, includes_m365, status, version)
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::bool[], $5::text[],
                             $6::int[])
        ON CONFLICT (contract_id) DO UPDATE SET
            status = EXCLUDED.status, version = EXCLUDED.version, year = EXCLUDED.year,
            includes_m365 = EXCLUDED.includes_m365
        """,
        *[list(c) for c in cols],
    )


async def save_contract(
    conn: Conn,
    contract_id: uuid.UUID,
    client_id: uuid.UUID,
    year: int,
    includes_m365: bool,
    status: str,
    version: int,
) -> None:
    """Store the projected contract (prisme_events.projection decided it)."""
    await conn.execute(
        """
        INSERT INTO contracts (contract_id, client_id, year, includes_m365, status, version)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (contract_id) DO UPDATE SET
            status = EXCLUDED.status, version = EXCLUDED.version, year = EXCLUDED.year,
            includes_m365 = EXCLUDED.includes_m365
        """,
        contract_id,
        client_id,
        year,
        includes_m365,
        status,
        version,
    )


async def record_removal(
    conn: Conn, contract_id: uuid.UUID, user_id: uuid.UUID, version: int
) -> None:
    await conn.execute(
        """INSERT INTO user_removals (contract_id, user_id, version) VALUES ($1, $2, $3)
           ON CONFLICT (contract_id, user_id) DO UPDATE
           SET version = GREATEST(user_removals.version, EXCLUDED.version)""",
        contract_id,
        user_id,
        version,
    )


async def removed_after(conn: Conn, contract_id: uuid.UUID, version: int) -> set[uuid.UUID]:
    """Users removed from the contract by an amendment newer than ``version``."""
    rows = await conn.fetch(
        "SELECT user_id FROM user_removals WHERE contract_id = $1 AND version > $2",
        contract_id,
        version,
    )
    return {r["user_id"] for r in rows}
