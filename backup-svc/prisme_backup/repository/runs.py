"""What the agents report: runs (the days they covered) and checks (test restores)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg


async def covered_days(conn: asyncpg.Connection, plan_id: uuid.UUID, since: date) -> set[date]:
    rows = await conn.fetch(
        "SELECT DISTINCT day FROM runs WHERE plan_id = $1 AND status = 'succeeded' AND day >= $2",
        plan_id,
        since,
    )
    return {r["day"] for r in rows}


async def insert_run(conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
    """``False`` when a run with that id was already recorded (a re-sent report)."""
    row = await conn.fetchrow(
        """
        INSERT INTO runs (id, plan_id, agent_id, day, started_at, finished_at, status, error,
                          snapshot_id, bytes_added, total_bytes, files, repository_bytes)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """,
        values["id"],
        values["plan_id"],
        values["agent_id"],
        values["day"],
        values["started_at"],
        values["finished_at"],
        values["status"],
        values["error"],
        values["snapshot_id"],
        values["bytes_added"],
        values["total_bytes"],
        values["files"],
        values["repository_bytes"],
    )
    return row is not None


async def owner_of_run(conn: asyncpg.Connection, run_id: uuid.UUID) -> uuid.UUID | None:
    owner: uuid.UUID | None = await conn.fetchval("SELECT agent_id FROM runs WHERE id = $1", run_id)
    return owner


async def owner_of_check(conn: asyncpg.Connection, check_id: uuid.UUID) -> uuid.UUID | None:
    owner: uuid.UUID | None = await conn.fetchval(
        "SELECT agent_id FROM checks WHERE id = $1", check_id
    )
    return owner


async def run_of_agent(conn: asyncpg.Connection, run_id: uuid.UUID, agent_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM runs WHERE id = $1 AND agent_id = $2", run_id, agent_id
        )
    )


async def insert_check(conn: asyncpg.Connection, values: dict[str, Any]) -> bool:
    """``False`` when a check with that id was already recorded (a re-sent report)."""
    row = await conn.fetchrow(
        """
        INSERT INTO checks (id, plan_id, agent_id, run_id, kind, ok, subset, snapshot_id, detail,
                            checked_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (id) DO NOTHING
        RETURNING id
        """,
        values["id"],
        values["plan_id"],
        values["agent_id"],
        values["run_id"],
        values["kind"],
        values["ok"],
        values["subset"],
        values["snapshot_id"],
        values["detail"],
        values["checked_at"],
    )
    return row is not None
