"""Contracts as video-svc keeps them from contracts-svc's events: state, lock, save."""

from __future__ import annotations

import uuid

from ..domain import ContractState
from .db import DB


async def get_contract(
    conn: DB, contract_id: uuid.UUID, *, for_update: bool = False
) -> ContractState | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        "SELECT contract_id, client_id, version, status, ends_at, ended_at, year FROM contracts"  # noqa: S608 - fixed column list
        " WHERE contract_id = $1" + lock,
        contract_id,
    )
    return None if row is None else ContractState(**dict(row))


async def lock_contract(conn: DB, contract_id: uuid.UUID) -> None:
    """Serialise events of one contract, even before its first row exists."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", str(contract_id))


async def save_contract(conn: DB, state: ContractState) -> None:
    await conn.execute(
        """
        INSERT INTO contracts (contract_id, client_id, version, status, ends_at, ended_at, year)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (contract_id) DO UPDATE SET
            version = EXCLUDED.version, status = EXCLUDED.status, ends_at = EXCLUDED.ends_at,
            ended_at = EXCLUDED.ended_at, year = EXCLUDED.year, updated_at = now()
        """,
        state.contract_id,
        state.client_id,
        state.version,
        state.status,
        state.ends_at,
        state.ended_at,
        state.year,
    )
