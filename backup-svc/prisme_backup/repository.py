"""All SQL of backup-svc."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any

import asyncpg

Row = asyncpg.Record

# --- contracts (what we know of contracts-svc's contracts) -------------------------------


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


# --- plans --------------------------------------------------------------------------------


async def plan_for_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> Row | None:
    return await conn.fetchrow("SELECT * FROM plans WHERE client_id = $1 FOR UPDATE", client_id)


async def get_plan(
    conn: asyncpg.Connection, plan_id: uuid.UUID, *, lock: bool = False
) -> Row | None:
    if lock:
        return await conn.fetchrow("SELECT * FROM plans WHERE id = $1 FOR UPDATE", plan_id)
    return await conn.fetchrow("SELECT * FROM plans WHERE id = $1", plan_id)


async def list_plans(conn: asyncpg.Connection, client_id: uuid.UUID | None) -> list[Row]:
    return await conn.fetch(
        """
        SELECT p.*,
               (SELECT max(r.finished_at) FROM runs r
                 WHERE r.plan_id = p.id AND r.status = 'succeeded') AS last_success_at
          FROM plans p
         WHERE $1::uuid IS NULL OR p.client_id = $1
         ORDER BY p.created_at
        """,
        client_id,
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


async def covered_days(conn: asyncpg.Connection, plan_id: uuid.UUID, since: date) -> set[date]:
    rows = await conn.fetch(
        "SELECT DISTINCT day FROM runs WHERE plan_id = $1 AND status = 'succeeded' AND day >= $2",
        plan_id,
        since,
    )
    return {r["day"] for r in rows}


async def plans_due_for_purge(conn: asyncpg.Connection, now: datetime) -> list[Row]:
    return await conn.fetch(
        """
        SELECT * FROM plans WHERE status = 'ended' AND purge_after <= $1
         ORDER BY purge_after FOR UPDATE SKIP LOCKED
        """,
        now,
    )


async def mark_purged(conn: asyncpg.Connection, plan: Row, now: datetime) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM snapshots WHERE plan_id = $1 AND forgotten_at IS NULL", plan["id"]
    )
    await conn.execute(
        "UPDATE snapshots SET forgotten_at = $2 WHERE plan_id = $1 AND forgotten_at IS NULL",
        plan["id"],
        now,
    )
    await conn.execute(
        "UPDATE exports SET status = 'purged' WHERE plan_id = $1 AND status = 'ready'", plan["id"]
    )
    await conn.execute(
        "UPDATE plans SET status = 'purged', purged_at = $2, updated_at = now() WHERE id = $1",
        plan["id"],
        now,
    )
    await conn.execute(
        """
        INSERT INTO purges (id, plan_id, client_id, repository_location, snapshots, purged_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        uuid.uuid4(),
        plan["id"],
        plan["client_id"],
        plan["repository_location"],
        int(count or 0),
        now,
    )
    return int(count or 0)


async def purges_of(conn: asyncpg.Connection, plan_id: uuid.UUID) -> list[Row]:
    return await conn.fetch("SELECT * FROM purges WHERE plan_id = $1 ORDER BY purged_at", plan_id)


# --- enrolment and agents ------------------------------------------------------------------


async def insert_enrolment_token(
    conn: asyncpg.Connection,
    *,
    plan_id: uuid.UUID,
    token_hash: bytes,
    expires_at: datetime,
    created_by: str,
) -> None:
    await conn.execute(
        """
        INSERT INTO enrolment_tokens (id, plan_id, token_hash, expires_at, created_by)
        VALUES ($1, $2, $3, $4, $5)
        """,
        uuid.uuid4(),
        plan_id,
        token_hash,
        expires_at,
        created_by,
    )


async def consume_enrolment_token(
    conn: asyncpg.Connection, token_hash: bytes, now: datetime
) -> uuid.UUID | None:
    """Use a valid token once; the plan it enrols into, or ``None``."""
    row = await conn.fetchrow(
        """
        UPDATE enrolment_tokens t SET used_at = $2
          FROM plans p
         WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2
           AND p.id = t.plan_id AND p.status = 'active'
        RETURNING t.plan_id
        """,
        token_hash,
        now,
    )
    return None if row is None else row["plan_id"]


async def insert_agent(
    conn: asyncpg.Connection,
    *,
    agent_id: uuid.UUID,
    plan_id: uuid.UUID,
    hostname: str,
    credential_hash: bytes,
) -> None:
    await conn.execute(
        """
        INSERT INTO agents (id, plan_id, hostname, credential_hash, status)
        VALUES ($1, $2, $3, $4, 'active')
        """,
        agent_id,
        plan_id,
        hostname,
        credential_hash,
    )


async def revoke_agents(conn: asyncpg.Connection, plan_id: uuid.UUID, now: datetime) -> int:
    result = await conn.execute(
        """
        UPDATE agents SET status = 'revoked', revoked_at = $2
         WHERE plan_id = $1 AND status = 'active'
        """,
        plan_id,
        now,
    )
    await conn.execute(
        "UPDATE enrolment_tokens SET used_at = $2 WHERE plan_id = $1 AND used_at IS NULL",
        plan_id,
        now,
    )
    return int(result.split()[-1])


async def active_agent(conn: asyncpg.Connection, credential_hash: bytes) -> Row | None:
    """The agent holding this credential, if it and its plan are both active (K3)."""
    return await conn.fetchrow(
        """
        UPDATE agents a SET last_seen_at = now()
          FROM plans p
         WHERE a.credential_hash = $1 AND a.status = 'active'
           AND p.id = a.plan_id AND p.status = 'active'
        RETURNING a.id AS agent_id, a.plan_id
        """,
        credential_hash,
    )


async def agents_of(conn: asyncpg.Connection, plan_id: uuid.UUID) -> list[Row]:
    return await conn.fetch(
        "SELECT id, hostname, status, enrolled_at, revoked_at, last_seen_at"
        " FROM agents WHERE plan_id = $1 ORDER BY enrolled_at",
        plan_id,
    )


# --- runs, snapshots, checks ---------------------------------------------------------------


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


async def insert_snapshot(
    conn: asyncpg.Connection,
    *,
    plan_id: uuid.UUID,
    snapshot_id: str,
    run_id: uuid.UUID,
    taken_at: datetime,
    bytes_added: int,
    total_bytes: int,
    files: int,
) -> None:
    await conn.execute(
        """
        INSERT INTO snapshots (plan_id, snapshot_id, run_id, taken_at, bytes_added, total_bytes,
                               files)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (plan_id, snapshot_id) DO NOTHING
        """,
        plan_id,
        snapshot_id,
        run_id,
        taken_at,
        bytes_added,
        total_bytes,
        files,
    )


async def forget_snapshots(
    conn: asyncpg.Connection, plan_id: uuid.UUID, ids: Sequence[str], now: datetime
) -> None:
    """Mark forgotten the catalogue entries whose (short) id prefixes one of ``ids``."""
    if not ids:
        return
    await conn.execute(
        """
        UPDATE snapshots s SET forgotten_at = $3
          FROM unnest($2::text[]) AS f(full_id)
         WHERE s.plan_id = $1 AND s.forgotten_at IS NULL
           AND left(f.full_id, length(s.snapshot_id)) = s.snapshot_id
        """,
        plan_id,
        list(ids),
        now,
    )


async def list_snapshots(conn: asyncpg.Connection, plan_id: uuid.UUID) -> list[Row]:
    return await conn.fetch(
        """
        SELECT * FROM snapshots WHERE plan_id = $1 AND forgotten_at IS NULL
         ORDER BY taken_at DESC
        """,
        plan_id,
    )


async def list_runs(conn: asyncpg.Connection, plan_id: uuid.UUID, limit: int) -> list[Row]:
    return await conn.fetch(
        "SELECT * FROM runs WHERE plan_id = $1 ORDER BY started_at DESC LIMIT $2",
        plan_id,
        limit,
    )


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


async def list_checks(conn: asyncpg.Connection, plan_id: uuid.UUID, limit: int) -> list[Row]:
    return await conn.fetch(
        "SELECT * FROM checks WHERE plan_id = $1 ORDER BY checked_at DESC LIMIT $2",
        plan_id,
        limit,
    )


# --- alerts --------------------------------------------------------------------------------


async def raise_alert(
    conn: asyncpg.Connection,
    *,
    plan_id: uuid.UUID,
    client_id: uuid.UUID,
    kind: str,
    day: date | None,
    detail: str,
    dedupe_key: str,
) -> bool:
    """Insert the alert once per ``dedupe_key``; ``True`` when it is new."""
    row = await conn.fetchrow(
        """
        INSERT INTO alerts (id, plan_id, client_id, kind, day, detail, dedupe_key)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id
        """,
        uuid.uuid4(),
        plan_id,
        client_id,
        kind,
        day,
        detail,
        dedupe_key,
    )
    return row is not None


async def resolve_alerts(
    conn: asyncpg.Connection, plan_id: uuid.UUID, kinds: Sequence[str], day: date | None
) -> None:
    await conn.execute(
        """
        UPDATE alerts SET resolved_at = now()
         WHERE plan_id = $1 AND kind = ANY($2::text[]) AND resolved_at IS NULL
           AND ($3::date IS NULL OR day = $3)
        """,
        plan_id,
        list(kinds),
        day,
    )


async def list_alerts(
    conn: asyncpg.Connection,
    *,
    client_id: uuid.UUID | None,
    plan_id: uuid.UUID | None,
    open_only: bool,
) -> list[Row]:
    return await conn.fetch(
        """
        SELECT * FROM alerts
         WHERE ($1::uuid IS NULL OR client_id = $1) AND ($2::uuid IS NULL OR plan_id = $2)
           AND (NOT $3 OR resolved_at IS NULL)
         ORDER BY raised_at DESC, kind
        """,
        client_id,
        plan_id,
        open_only,
    )


# --- exports -------------------------------------------------------------------------------


async def insert_export(
    conn: asyncpg.Connection, export_id: uuid.UUID, plan_id: uuid.UUID, requested_by: str
) -> Row:
    row = await conn.fetchrow(
        """
        INSERT INTO exports (id, plan_id, status, requested_by) VALUES ($1, $2, 'pending', $3)
        RETURNING *
        """,
        export_id,
        plan_id,
        requested_by,
    )
    assert row is not None
    return row


async def get_export(conn: asyncpg.Connection, export_id: uuid.UUID) -> Row | None:
    return await conn.fetchrow("SELECT * FROM exports WHERE id = $1", export_id)


async def mark_export_running(conn: asyncpg.Connection, export_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE exports SET status = 'running' WHERE id = $1 AND status IN ('pending', 'running',"
        " 'failed')",
        export_id,
    )


async def finish_export(
    conn: asyncpg.Connection,
    export_id: uuid.UUID,
    *,
    status: str,
    snapshot_id: str | None,
    size_bytes: int | None,
    error: str | None,
) -> None:
    await conn.execute(
        """
        UPDATE exports SET status = $2, snapshot_id = $3, size_bytes = $4, error = $5,
                           finished_at = now()
         WHERE id = $1
        """,
        export_id,
        status,
        snapshot_id,
        size_bytes,
        error,
    )
