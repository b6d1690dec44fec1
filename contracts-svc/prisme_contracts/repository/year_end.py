"""Year-end runs (C2): closing a year batch by batch."""

from __future__ import annotations

from datetime import datetime

import asyncpg
from prisme_chassis.audit import Actor

from .rows import Row


async def get_year_end_run(conn: asyncpg.Connection, year: int) -> Row | None:
    return await conn.fetchrow(
        "SELECT year, status, started_by, started_at, finished_at, ended_count, batches"
        " FROM year_end_runs WHERE year = $1",
        year,
    )


async def open_year_end_run(conn: asyncpg.Connection, year: int, actor: str) -> None:
    await conn.execute(
        "INSERT INTO year_end_runs (year, status, started_by) VALUES ($1, 'running', $2)"
        " ON CONFLICT (year) DO UPDATE SET status = 'running', finished_at = NULL"
        " WHERE year_end_runs.status = 'running'",
        year,
        actor,
    )


async def finish_year_end_run(conn: asyncpg.Connection, year: int) -> None:
    await conn.execute(
        "UPDATE year_end_runs SET status = 'done', finished_at = coalesce(finished_at, now())"
        " WHERE year = $1",
        year,
    )


async def cancel_drafts_of_year(
    conn: asyncpg.Connection, year: int, actor: Actor, at: datetime
) -> list[Row]:
    """Drafts of a closed year can never be activated: cancel them (with their audit rows).

    Returns what their ``contract.cancelled`` events need (C8: what was carried over stops)."""
    rows = await conn.fetch(
        """
        WITH cancelled AS (
            UPDATE contracts c SET status = 'cancelled', version = c.version + 1, updated_at = now()
             WHERE c.year = $1 AND c.status = 'draft'
            RETURNING c.id, c.client_id, c.version, c.offer, c.year, c.renewal_of
        ), audited AS (
            INSERT INTO audit_trail (at, actor, actor_name, address, action, target_type,
                                     target_id, client_id, before, after)
            SELECT $4, $2, $5, $3, 'contract.cancelled', 'contract', x.id::text, x.client_id,
                   jsonb_build_object('status', 'draft', 'version', x.version - 1),
                   jsonb_build_object('status', 'cancelled', 'version', x.version,
                                      'why', 'year-end: the year is closed')
              FROM cancelled x
        )
        SELECT x.*, o.includes FROM cancelled x JOIN offers o ON o.code = x.offer
        """,
        year,
        actor.sub,
        actor.address,
        at,
        actor.name,
    )
    return list(rows)


async def count_active(conn: asyncpg.Connection, year: int) -> int:
    value = await conn.fetchval(
        "SELECT count(*) FROM contracts WHERE status = 'active' AND year = $1", year
    )
    return int(value)


async def count_ended(conn: asyncpg.Connection, year: int) -> int:
    """Contracts of the year that ended, by the year-end or a cessation (C6): one
    ``contract.ended`` each."""
    value = await conn.fetchval(
        "SELECT count(*) FROM contracts WHERE status = 'ended' AND year = $1", year
    )
    return int(value)


async def years_with_active_before(conn: asyncpg.Connection, year: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT DISTINCT year FROM contracts WHERE status = 'active' AND year < $1"
        " UNION SELECT year FROM year_end_runs WHERE status = 'running' ORDER BY 1",
        year,
    )
    return [r["year"] for r in rows]


async def end_year_batch(
    conn: asyncpg.Connection,
    year: int,
    limit: int,
    ended_at: datetime,
    actor: Actor,
    at: datetime,
) -> list[Row]:
    """End up to ``limit`` active contracts of ``year`` in one statement (set-based, C2).

    Locked rows (a concurrent amendment or runner) are skipped and picked up by a later batch.
    The audit rows are written by the same statement; the result carries what the
    ``contract.ended`` events need (includes, postes, the next year's live contract).
    """
    rows = await conn.fetch(
        """
        WITH batch AS (
            SELECT id FROM contracts
             WHERE status = 'active' AND year = $1
             ORDER BY id LIMIT $2
             FOR UPDATE SKIP LOCKED
        ), ended AS (
            UPDATE contracts c
               SET status = 'ended', version = c.version + 1, end_reason = 'year_end',
                   ended_on = c.end_date, ended_at = $3, updated_at = now()
              FROM batch WHERE c.id = batch.id
            RETURNING c.id, c.client_id, c.offer, c.version, c.year, c.end_date
        ), audited AS (
            INSERT INTO audit_trail (at, actor, actor_name, address, action, target_type,
                                     target_id, client_id, before, after)
            SELECT $7, $4, $6, $5, 'contract.ended', 'contract', e.id::text, e.client_id,
                   jsonb_build_object('status', 'active', 'version', e.version - 1),
                   jsonb_build_object('status', 'ended', 'version', e.version,
                                      'end_reason', 'year_end', 'ended_on', e.end_date)
              FROM ended e
        ), postes AS (
            SELECT a.client_id, count(*) AS n
              FROM assets a
             WHERE a.removed_at IS NULL AND a.kind IN ('server', 'workstation')
               AND a.client_id IN (SELECT client_id FROM ended)
             GROUP BY a.client_id
        )
        SELECT e.id, e.client_id, e.offer, e.version, e.year, e.end_date, o.includes,
               coalesce(p.n, 0) AS postes, r.id AS renewal_id, ro.includes AS renewal_includes
          FROM ended e
          JOIN offers o ON o.code = e.offer
          LEFT JOIN postes p ON p.client_id = e.client_id
          LEFT JOIN contracts r ON r.client_id = e.client_id AND r.year = e.year + 1
                                AND r.status IN ('draft', 'active')
          LEFT JOIN offers ro ON ro.code = r.offer
        """,
        year,
        limit,
        ended_at,
        actor.sub,
        actor.address,
        actor.name,
        at,
    )
    if rows:
        await conn.execute(
            "UPDATE year_end_runs SET ended_count = ended_count + $2, batches = batches + 1 WHERE year = $1",
            year,
            len(rows),
        )
    return rows
