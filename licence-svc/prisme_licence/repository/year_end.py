"""The year-end's effects on licences (L3, C2)."""

from __future__ import annotations

import asyncpg

from .db import Conn


async def year_end_effects(conn: Conn, year: int) -> asyncpg.Record:
    """For the ended contracts of ``year``: how many, and their accounts revoked, still to
    revoke (pending, active or failed) and failed (a dead Graph job), in one statement. An
    account carried over to next year's contract (L3) belongs to that contract, not here."""
    row = await conn.fetchrow(
        """
        WITH ended AS (SELECT contract_id FROM contracts WHERE year = $1 AND status = 'ended')
        SELECT (SELECT count(*) FROM ended) AS contracts_ended,
               count(a.id) FILTER (WHERE a.status = 'revoked') AS done,
               count(a.id) FILTER (WHERE a.status IN ('pending', 'active', 'failed'))
                   AS remaining,
               count(a.id) FILTER (WHERE a.status = 'failed') AS failed
        FROM ended e JOIN accounts a ON a.contract_id = e.contract_id
        """,
        year,
    )
    assert row is not None
    return row
