"""Backup plans: one per practice, its repository user, its schedule and its maintenance state."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

import asyncpg

from .rows import Row


async def plan_for_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> Row | None:
    return await conn.fetchrow("SELECT * FROM plans WHERE client_id = $1 FOR UPDATE", client_id)


async def get_plan(
    conn: asyncpg.Connection, plan_id: uuid.UUID, *, lock: bool = False
) -> Row | None:
    if lock:
        return await conn.fetchrow("SELECT * FROM plans WHERE id = $1 FOR UPDATE", plan_id)
    return await conn.fetchrow("SELECT * FROM plans WHERE id = $1", plan_id)


async def list_plans(
    conn: asyncpg.Connection,
    client_id: uuid.UUID | None,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
    after_name: tuple[str, uuid.UUID] | None = None,
    by_name: bool = False,
    status: str | None = None,
    no_copy_since: datetime | None = None,
) -> list[Row]:
    """Oldest first, or ``by_name`` (the practice's name, case and accents ignored: the
    ``name_order`` column), the id breaking ties; those after the key ``after`` (oldest first)
    or ``after_name`` (by name); with ``no_copy_since``, only the plans without a good copy
    finished since then."""
    order = "name_order(p.client_name), p.id" if by_name else "p.created_at, p.id"
    return await conn.fetch(
        f"""
        SELECT p.*, name_order(p.client_name) AS name_order,
               (SELECT max(r.finished_at) FROM runs r
                 WHERE r.plan_id = p.id AND r.status = 'succeeded') AS last_success_at
          FROM plans p
         WHERE ($1::uuid IS NULL OR p.client_id = $1)
           AND ($5::text IS NULL OR p.status = $5)
           AND ($6::timestamptz IS NULL OR NOT EXISTS (
                SELECT 1 FROM runs r WHERE r.plan_id = p.id AND r.status = 'succeeded'
                   AND r.finished_at >= $6))
           AND ($3::timestamptz IS NULL OR (p.created_at, p.id) > ($3, $4::uuid))
           AND ($7::text IS NULL OR (name_order(p.client_name), p.id) > ($7, $8::uuid))
         ORDER BY {order} LIMIT $2
        """,  # noqa: S608 - one of two constant orders
        client_id,
        limit,
        *(after or (None, None)),
        status,
        no_copy_since,
        *(after_name or (None, None)),
    )


async def insert_plan(
    conn: asyncpg.Connection,
    *,
    plan_id: uuid.UUID,
    client_id: uuid.UUID,
    client_name: str,
    contract_id: uuid.UUID,
    quota_bytes: int,
    history_days: int,
    daily_at: time,
    check_parts: int,
    restore_every_days: int,
    repository_location: str,
    repository_user: str,
    repository_password: bytes,
    expected_from: date,
) -> Row:
    row = await conn.fetchrow(
        """
        INSERT INTO plans (id, client_id, client_name, contract_id, status, quota_bytes,
                           history_days, daily_at, check_parts, restore_every_days,
                           repository_location, repository_password, expected_from,
                           repository_user)
        VALUES ($1, $2, $3, $4, 'active', $5, $6, $7, $8, $9, $10, $11, $12, $13)
        RETURNING *
        """,
        plan_id,
        client_id,
        client_name,
        contract_id,
        quota_bytes,
        history_days,
        daily_at,
        check_parts,
        restore_every_days,
        repository_location,
        repository_password,
        expected_from,
        repository_user,
    )
    assert row is not None
    return row


async def reactivate_plan(
    conn: asyncpg.Connection,
    plan_id: uuid.UUID,
    *,
    contract_id: uuid.UUID,
    client_name: str,
    expected_from: date | None,
    repository_location: str | None = None,
    repository_user: str | None = None,
    repository_password: bytes | None = None,
) -> None:
    await conn.execute(
        """
        UPDATE plans
           SET status = 'active', contract_id = $2, client_name = $3,
               expected_from = coalesce($4, expected_from),
               repository_location = coalesce($5, repository_location),
               repository_password = coalesce($6, repository_password),
               repository_user = coalesce($7, repository_user),
               over_quota = false, repository_bytes = NULL,
               last_day = NULL, ended_at = NULL, purge_after = NULL, purged_at = NULL,
               updated_at = now()
         WHERE id = $1
        """,
        plan_id,
        contract_id,
        client_name,
        expected_from,
        repository_location,
        repository_password,
        repository_user,
    )


async def end_plan(
    conn: asyncpg.Connection,
    plan_id: uuid.UUID,
    *,
    last_day: date,
    ended_at: datetime,
    purge_after: datetime,
) -> None:
    await conn.execute(
        """
        UPDATE plans SET status = 'ended', last_day = $2, ended_at = $3, purge_after = $4,
                         repository_user_hash = NULL, updated_at = now()
         WHERE id = $1
        """,
        plan_id,
        last_day,
        ended_at,
        purge_after,
    )


async def update_plan(conn: asyncpg.Connection, plan_id: uuid.UUID, changes: dict[str, Any]) -> Row:
    allowed = {
        "databases",
        "quota_bytes",
        "share_path",
        "daily_at",
        "grace_minutes",
        "check_parts",
        "restore_every_days",
        "restore_sample",
    }
    sets: list[str] = []
    args: list[Any] = [plan_id]
    for name, value in changes.items():
        if name not in allowed:
            raise ValueError(name)
        args.append(value)
        cast = "::jsonb" if name == "databases" else ""
        sets.append(f"{name} = ${len(args)}{cast}")
    sets.append("updated_at = now()")
    row = await conn.fetchrow(
        f"UPDATE plans SET {', '.join(sets)} WHERE id = $1 RETURNING *",  # noqa: S608 - names are whitelisted
        *args,
    )
    assert row is not None
    return row


async def set_repository_user_hash(
    conn: asyncpg.Connection, plan_id: uuid.UUID, digest: str | None
) -> None:
    await conn.execute(
        "UPDATE plans SET repository_user_hash = $2, updated_at = now() WHERE id = $1",
        plan_id,
        digest,
    )


async def repository_users(conn: asyncpg.Connection) -> list[tuple[str, str]]:
    """(user, bcrypt hash) of every plan that may write to the repository server now."""
    rows = await conn.fetch(
        """
        SELECT repository_user, repository_user_hash FROM plans
         WHERE status = 'active' AND repository_user_hash IS NOT NULL AND NOT over_quota
        """
    )
    return [(r["repository_user"], r["repository_user_hash"]) for r in rows]


async def mark_maintenance_due(conn: asyncpg.Connection, plan_id: uuid.UUID) -> None:
    await conn.execute("UPDATE plans SET runs_reported = runs_reported + 1 WHERE id = $1", plan_id)


async def plan_due_for_maintenance(conn: asyncpg.Connection) -> Row | None:
    """The plan whose maintenance has waited longest."""
    return await conn.fetchrow(
        """
        SELECT * FROM plans
         WHERE runs_reported > runs_maintained AND status IN ('active', 'ended')
         ORDER BY maintained_at NULLS FIRST
         LIMIT 1
        """
    )


async def finish_maintenance(
    conn: asyncpg.Connection,
    plan_id: uuid.UUID,
    *,
    runs_seen: int,
    repository_bytes: int | None,
    over_quota: bool,
    now: datetime,
) -> None:
    await conn.execute(
        """
        UPDATE plans SET runs_maintained = greatest(runs_maintained, $2),
                         repository_bytes = coalesce($3, repository_bytes),
                         over_quota = $4, maintained_at = $5
         WHERE id = $1
        """,
        plan_id,
        runs_seen,
        repository_bytes,
        over_quota,
        now,
    )


async def plans_to_watch(conn: asyncpg.Connection) -> list[Row]:
    return await conn.fetch(
        "SELECT * FROM plans WHERE status IN ('active', 'ended') ORDER BY created_at"
    )
