"""Contracts as video-svc keeps them from contracts-svc's events: state, lock, save."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from ..domain import ContractState
from .db import DB


async def get_contract(conn: DB, contract_id: uuid.UUID) -> ContractState | None:
    return (await get_contracts(conn, [contract_id])).get(contract_id)


async def get_contracts(
    conn: DB, contract_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ContractState]:
    """The stored state of each of ``contract_ids`` that has one."""
    rows = await conn.fetch(
        "SELECT contract_id, client_id, version, status, ends_at, ended_at, year FROM contracts"
        " WHERE contract_id = ANY($1::uuid[])",
        list(contract_ids),
    )
    return {r["contract_id"]: ContractState(**dict(r)) for r in rows}


async def lock_contract(conn: DB, contract_id: uuid.UUID) -> None:
    """Serialise events of one contract, even before its first row exists."""
    await lock_contracts(conn, [contract_id])


async def lock_contracts(conn: DB, contract_ids: Sequence[uuid.UUID]) -> None:
    """:func:`lock_contract` for many (a batch of ``contract.ended``), taken in one order so
    two transactions never deadlock."""
    await conn.execute(
        """SELECT pg_advisory_xact_lock(hashtextextended(i, 0))
           FROM (SELECT i FROM unnest($1::text[]) AS t(i) ORDER BY i) s""",
        sorted({str(c) for c in contract_ids}),
    )


async def save_contract(conn: DB, state: ContractState) -> None:
    await save_contracts(conn, [state])


async def save_contracts(conn: DB, states: Sequence[ContractState]) -> None:
    if not states:
        return
    await conn.execute(
        """
        INSERT INTO contracts (contract_id, client_id, version, status, ends_at, ended_at, year)
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::timestamptz[],
                             $6::timestamptz[], $7::int[])
        ON CONFLICT (contract_id) DO UPDATE SET
            version = EXCLUDED.version, status = EXCLUDED.status, ends_at = EXCLUDED.ends_at,
            ended_at = EXCLUDED.ended_at, year = EXCLUDED.year, updated_at = now()
        """,
        [s.contract_id for s in states],
        [s.client_id for s in states],
        [s.version for s in states],
        [s.status for s in states],
        [s.ends_at for s in states],
        [s.ended_at for s in states],
        [s.year for s in states],
    )
