"""Contracts (C2): their rows and state changes, and the advisory lock on a contract year."""

# ruff: noqa: S608

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import asyncpg

from .rows import Row

# Advisory-lock namespace for a contract year: activation takes it shared, the year-end run
# takes it exclusively while it opens the run, so no contract is activated into a closed year.
_YEAR_LOCK = 0x434F_4E54  # "CONT"


_CONTRACT_COLS = (
    "c.id, c.client_id, c.offer, c.year, c.start_date, c.end_date, c.status, c.version,"
    " c.non_conforming, c.renewal_of, c.created_by, c.created_at, c.activated_at, c.end_reason,"
    " c.ended_on, c.ended_at, c.updated_at, c.level"
)


async def insert_contract(conn: asyncpg.Connection, values: dict[str, Any]) -> Row:
    row = await conn.fetchrow(
        "INSERT INTO contracts AS c (id, client_id, offer, year, start_date, end_date, status, version,"
        " renewal_of, created_by, level) VALUES ($1, $2, $3, $4, $5, $6, 'draft', 1, $7, $8, $9)"
        f" RETURNING {_CONTRACT_COLS}",
        values["id"],
        values["client_id"],
        values["offer"],
        values["year"],
        values["start_date"],
        values["end_date"],
        values["renewal_of"],
        values["created_by"],
        values["level"],
    )
    assert row is not None
    return row


async def get_contract(
    conn: asyncpg.Connection, contract_id: uuid.UUID, *, lock: bool = False
) -> Row | None:
    sql = f"SELECT {_CONTRACT_COLS} FROM contracts c WHERE c.id = $1"
    return await conn.fetchrow(sql + (" FOR UPDATE" if lock else ""), contract_id)


async def list_contracts(
    conn: asyncpg.Connection,
    *,
    client_id: uuid.UUID | None,
    status: str | None,
    year: int | None,
    non_conforming: bool | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
    offer: str | None = None,
) -> list[Row]:
    """Oldest first (``created_at``, then ``id``), those after the key ``after``."""
    return await conn.fetch(
        f"SELECT {_CONTRACT_COLS} FROM contracts c"
        " WHERE ($1::uuid IS NULL OR c.client_id = $1) AND ($2::text IS NULL OR c.status = $2)"
        " AND ($3::int IS NULL OR c.year = $3) AND ($6::bool IS NULL OR c.non_conforming = $6)"
        " AND ($7::text IS NULL OR c.offer = $7)"
        " AND ($5::timestamptz IS NULL OR (c.created_at, c.id) > ($5, $8::uuid))"
        " ORDER BY c.created_at, c.id LIMIT $4",
        client_id,
        status,
        year,
        limit,
        after[0] if after else None,
        non_conforming,
        offer,
        after[1] if after else None,
    )


async def active_contracts_of_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> list[Row]:
    """The client's active contracts, locked for update, oldest year first."""
    return await conn.fetch(
        f"SELECT {_CONTRACT_COLS} FROM contracts c"
        " WHERE c.client_id = $1 AND c.status = 'active' ORDER BY c.year FOR UPDATE",
        client_id,
    )


async def renewal_for(conn: asyncpg.Connection, client_id: uuid.UUID, year: int) -> Row | None:
    """The client's live (draft or active) contract for ``year`` with what its offer includes."""
    return await conn.fetchrow(
        "SELECT c.id, c.status, o.includes FROM contracts c JOIN offers o ON o.code = c.offer"
        " WHERE c.client_id = $1 AND c.year = $2 AND c.status IN ('draft', 'active')",
        client_id,
        year,
    )


async def set_contract_state(
    conn: asyncpg.Connection, contract_id: uuid.UUID, **fields: Any
) -> Row:
    """Update the given columns of a contract and bump its version by one (every change)."""
    allowed = {"status", "non_conforming", "activated_at", "end_reason", "ended_on", "ended_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    names = sorted(fields)
    sets = ", ".join(f"{n} = ${i + 2}" for i, n in enumerate(names))
    row = await conn.fetchrow(
        f"UPDATE contracts AS c SET {sets}, version = c.version + 1, updated_at = now()"
        f" WHERE c.id = $1 RETURNING {_CONTRACT_COLS}",
        contract_id,
        *(fields[n] for n in names),
    )
    assert row is not None
    return row


async def bump_version(conn: asyncpg.Connection, contract_id: uuid.UUID) -> Row:
    row = await conn.fetchrow(
        "UPDATE contracts AS c SET version = c.version + 1, updated_at = now()"
        f" WHERE c.id = $1 RETURNING {_CONTRACT_COLS}",
        contract_id,
    )
    assert row is not None
    return row


async def lock_year_shared(conn: asyncpg.Connection, year: int) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", _YEAR_LOCK, year)


async def lock_year_exclusive(conn: asyncpg.Connection, year: int) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _YEAR_LOCK, year)


async def active_contract_on(
    conn: asyncpg.Connection, client_id: uuid.UUID, day: date
) -> Row | None:
    return await conn.fetchrow(
        "SELECT id FROM contracts WHERE client_id = $1 AND status = 'active'"
        " AND start_date <= $2 AND end_date >= $2",
        client_id,
        day,
    )
