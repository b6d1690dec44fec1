"""What backup-svc knows of contracts-svc's contracts (a projection of the contract events)."""

from __future__ import annotations

import uuid

import asyncpg

from .rows import Row


async def contract_status(conn: asyncpg.Connection, contract_id: uuid.UUID) -> str | None:
    value = await conn.fetchval("SELECT status FROM contracts WHERE contract_id = $1", contract_id)
    return None if value is None else str(value)


async def locked_contract(conn: asyncpg.Connection, contract_id: uuid.UUID) -> Row | None:
    """The stored contract, events of one contract serialised (even before its first row)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", str(contract_id))
    return await conn.fetchrow(
        "SELECT contract_id, client_id, version, status, includes_backup, year FROM contracts"
        " WHERE contract_id = $1",
        contract_id,
    )


async def save_contract(
    conn: asyncpg.Connection,
    *,
    contract_id: uuid.UUID,
    client_id: uuid.UUID,
    version: int,
    status: str,
    includes_backup: bool,
    year: int,
) -> None:
    await conn.execute(
        """
        INSERT INTO contracts (contract_id, client_id, version, status, includes_backup, year)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (contract_id) DO UPDATE
           SET version = EXCLUDED.version, status = EXCLUDED.status, year = EXCLUDED.year,
               includes_backup = EXCLUDED.includes_backup, updated_at = now()
        """,
        contract_id,
        client_id,
        version,
        status,
        includes_backup,
        year,
    )
