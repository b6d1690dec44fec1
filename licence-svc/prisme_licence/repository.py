"""All SQL of licence-svc."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

JOBS_CHANNEL = "licence_jobs"


# -- tenants --------------------------------------------------------------------------------
async def upsert_tenant(
    conn: Conn, client_id: uuid.UUID, graph_tenant: str, domain: str, sku: str
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO tenants (client_id, graph_tenant, domain, sku_part_number)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (client_id) DO UPDATE SET graph_tenant = EXCLUDED.graph_tenant,
            domain = EXCLUDED.domain, sku_part_number = EXCLUDED.sku_part_number, updated_at = now()
        RETURNING *
        """,
        client_id,
        graph_tenant,
        domain,
        sku,
    )
    assert row is not None
    return row


async def get_tenant(conn: Conn, client_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM tenants WHERE client_id = $1", client_id)


async def list_tenants(conn: Conn) -> list[asyncpg.Record]:
    return list(await conn.fetch("SELECT * FROM tenants ORDER BY client_id"))


# -- contracts ------------------------------------------------------------------------------
async def get_contract(conn: Conn, contract_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM contracts WHERE contract_id = $1 FOR UPDATE", contract_id
    )


async def locked_contract(conn: Conn, contract_id: uuid.UUID) -> asyncpg.Record | None:
    """The stored contract, events of one contract serialised (even before its first row)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", str(contract_id))
    return await get_contract(conn, contract_id)


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


# -- accounts -------------------------------------------------------------------------------
async def account_by_user(conn: Conn, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM accounts WHERE user_id = $1 FOR UPDATE", user_id)


async def get_account(
    conn: Conn, account_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    if lock:
        return await conn.fetchrow("SELECT * FROM accounts WHERE id = $1 FOR UPDATE", account_id)
    return await conn.fetchrow("SELECT * FROM accounts WHERE id = $1", account_id)


async def accounts_by_ids(conn: Conn, ids: list[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM accounts WHERE id = ANY($1::uuid[])", ids)
    return {r["id"]: r for r in rows}


async def upns_like(conn: Conn, graph_tenant: str, local_prefix: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT upn FROM accounts WHERE graph_tenant = $1 AND lower(upn) LIKE $2",
        graph_tenant,
        local_prefix.lower().replace("%", "").replace("_", r"\_") + "%",
    )
    return [r["upn"] for r in rows]


async def insert_account(
    conn: Conn,
    *,
    account_id: uuid.UUID,
    client_id: uuid.UUID,
    contract_id: uuid.UUID,
    attached_version: int,
    user_id: uuid.UUID,
    graph_tenant: str,
    upn: str,
    first_name: str,
    last_name: str,
    sku: str,
) -> None:
    await conn.execute(
        """
        INSERT INTO accounts (id, client_id, contract_id, attached_version, user_id, graph_tenant, upn,
                              display_name, first_name, last_name, sku, status)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending')
        """,
        account_id,
        client_id,
        contract_id,
        attached_version,
        user_id,
        graph_tenant,
        upn,
        f"{first_name} {last_name}".strip(),
        first_name,
        last_name,
        sku,
    )


async def attach_account(
    conn: Conn,
    account_id: uuid.UUID,
    contract_id: uuid.UUID,
    version: int,
    status: str | None = None,
) -> None:
    await conn.execute(
        """UPDATE accounts SET contract_id = $2, attached_version = $3, status = COALESCE($4, status),
           updated_at = now() WHERE id = $1""",
        account_id,
        contract_id,
        version,
        status,
    )


async def accounts_of_contract(conn: Conn, contract_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM accounts WHERE contract_id = $1 ORDER BY upn FOR UPDATE", contract_id
        )
    )


async def move_accounts(conn: Conn, from_contract: uuid.UUID, to_contract: uuid.UUID) -> int:
    result = await conn.execute(
        """UPDATE accounts SET contract_id = $2, attached_version = 0, updated_at = now()
           WHERE contract_id = $1 AND status IN ('pending', 'active')""",
        from_contract,
        to_contract,
    )
    return int(result.split()[-1])


async def list_accounts(
    conn: Conn, client_id: uuid.UUID | None, contract_id: uuid.UUID | None
) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT * FROM accounts WHERE ($1::uuid IS NULL OR client_id = $1)
               AND ($2::uuid IS NULL OR contract_id = $2) ORDER BY client_id, upn""",
            client_id,
            contract_id,
        )
    )


async def list_alerts(conn: Conn) -> list[asyncpg.Record]:
    return list(
        await conn.fetch("SELECT * FROM accounts WHERE alert IS NOT NULL ORDER BY updated_at")
    )


async def set_account_state(conn: Conn, account_id: uuid.UUID, **fields: Any) -> None:
    allowed = {"status", "graph_user_id", "alert", "upn", "credential_state"}
    if not fields or set(fields) - allowed:
        raise ValueError(f"bad account fields {sorted(fields)}")
    cols = list(fields)
    sets = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(cols))
    await conn.execute(
        f"UPDATE accounts SET {sets}, updated_at = now() WHERE id = $1",  # noqa: S608 - column names from the allow-list above
        account_id,
        *[fields[c] for c in cols],
    )


# -- credentials ----------------------------------------------------------------------------
async def get_credential(conn: Conn, account_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM credentials WHERE account_id = $1", account_id)


async def insert_credential(
    conn: Conn, account_id: uuid.UUID, nonce: bytes, ciphertext: bytes
) -> None:
    await conn.execute(
        "INSERT INTO credentials (account_id, nonce, ciphertext) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        account_id,
        nonce,
        ciphertext,
    )
    await conn.execute(
        "UPDATE accounts SET credential_state = 'available' WHERE id = $1",
        account_id,
    )


async def take_credential(
    conn: Conn, account_id: uuid.UUID, now: datetime
) -> asyncpg.Record | None:
    """Delete and return the sealed password, if still there and not expired at ``now`` (read once)."""
    return await conn.fetchrow(
        """DELETE FROM credentials WHERE account_id = $1 AND (expires_at IS NULL OR expires_at > $2)
           RETURNING nonce, ciphertext""",
        account_id,
        now,
    )


async def destroy_credential(conn: Conn, account_id: uuid.UUID, state: str) -> None:
    await conn.execute("DELETE FROM credentials WHERE account_id = $1", account_id)
    await conn.execute(
        "UPDATE accounts SET credential_state = $2 WHERE id = $1 AND credential_state = 'available'",
        account_id,
        state,
    )


async def purge_expired_credentials(conn: Conn, now: datetime) -> int:
    rows = await conn.fetch(
        "DELETE FROM credentials WHERE expires_at <= $1 RETURNING account_id", now
    )
    ids = [r["account_id"] for r in rows]
    if ids:
        await conn.execute(
            "UPDATE accounts SET credential_state = 'expired' WHERE id = ANY($1::uuid[]) AND credential_state = 'available'",
            ids,
        )
    return len(ids)


# -- jobs -----------------------------------------------------------------------------------
async def add_job(
    conn: Conn, key: str, account_id: uuid.UUID, graph_tenant: str, kind: str, step: str
) -> bool:
    """Queue a job; ``key`` comes from domain ids so a redelivered event adds nothing."""
    inserted = await conn.fetchval(
        """INSERT INTO jobs (key, account_id, graph_tenant, kind, step) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (key) DO NOTHING RETURNING id""",
        key,
        account_id,
        graph_tenant,
        kind,
        step,
    )
    if inserted is not None:
        await conn.execute("SELECT pg_notify($1, $2)", JOBS_CHANNEL, graph_tenant)
    return inserted is not None


async def revoke_contract_accounts(conn: Conn, contract_id: uuid.UUID) -> int:
    """Queue the revocation of every live account of a contract in one statement (year-end
    volume, P2): pending provisionings are cancelled, job keys come from domain ids."""
    n = await conn.fetchval(
        """
        WITH acc AS (
            SELECT id, user_id, graph_tenant FROM accounts
            WHERE contract_id = $1 AND status IN ('pending', 'active', 'failed')
            FOR UPDATE
        ), cancelled AS (
            UPDATE jobs SET status = 'cancelled', updated_at = now()
            WHERE account_id IN (SELECT id FROM acc) AND kind = 'provision' AND status = 'queued'
        ), added AS (
            INSERT INTO jobs (key, account_id, graph_tenant, kind, step)
            SELECT 'revoke:' || user_id || ':' || $1::text, id, graph_tenant, 'revoke', 'disable' FROM acc
            ON CONFLICT (key) DO NOTHING
            RETURNING graph_tenant
        ), woken AS (
            SELECT pg_notify($2, t.graph_tenant) FROM (SELECT DISTINCT graph_tenant FROM added) t
        )
        SELECT (SELECT count(*) FROM added) + 0 * (SELECT count(*) FROM woken)
        """,
        contract_id,
        JOBS_CHANNEL,
    )
    return int(n or 0)


async def cancel_queued(conn: Conn, account_id: uuid.UUID, kind: str) -> int:
    result = await conn.execute(
        "UPDATE jobs SET status = 'cancelled', updated_at = now() WHERE account_id = $1 AND kind = $2 AND status = 'queued'",
        account_id,
        kind,
    )
    return int(result.split()[-1])


async def has_open_job(conn: Conn, account_id: uuid.UUID, kind: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM jobs WHERE account_id = $1 AND kind = $2 AND status = 'queued')",
            account_id,
            kind,
        )
    )


async def ready_tenants(conn: Conn, limit: int) -> list[str]:
    rows = await conn.fetch(
        """SELECT graph_tenant FROM jobs WHERE status = 'queued' AND run_after <= now()
           AND (lease_until IS NULL OR lease_until < now())
           GROUP BY graph_tenant ORDER BY min(run_after) LIMIT $1""",
        limit,
    )
    return [r["graph_tenant"] for r in rows]


async def seconds_to_next_due(conn: Conn) -> float | None:
    value = await conn.fetchval(
        """SELECT extract(epoch FROM min(greatest(run_after, coalesce(lease_until, run_after))) - now())
           FROM jobs WHERE status = 'queued'"""
    )
    return None if value is None else float(value)


async def claim_jobs(
    conn: Conn, graph_tenant: str, owner: str, limit: int, lease_seconds: float
) -> list[asyncpg.Record]:
    """Lease up to ``limit`` ready jobs of one tenant.

    ``FOR UPDATE SKIP LOCKED`` lets several workers (or replicas) claim side by side; the lease
    hands a job back to others if its worker dies. A job waits while an older job of the same
    account is queued or leased, so an account's operations run in the order they were asked.
    """
    return list(
        await conn.fetch(
            """
            WITH picked AS (
                SELECT j.id FROM jobs j
                WHERE j.graph_tenant = $1 AND j.status = 'queued' AND j.run_after <= now()
                  AND (j.lease_until IS NULL OR j.lease_until < now())
                  AND NOT EXISTS (
                      SELECT 1 FROM jobs o WHERE o.account_id = j.account_id AND o.id < j.id
                        AND (o.status = 'queued' OR o.lease_until > now()))
                ORDER BY j.run_after, j.id
                LIMIT $3
                FOR UPDATE OF j SKIP LOCKED
            )
            UPDATE jobs SET lease_owner = $2, lease_until = now() + make_interval(secs => $4),
                            attempts = attempts, updated_at = now()
            FROM picked WHERE jobs.id = picked.id
            RETURNING jobs.*
            """,
            graph_tenant,
            owner,
            limit,
            lease_seconds,
        )
    )


async def job_counts(conn: Conn) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM jobs GROUP BY status")
    return {r["status"]: int(r["n"]) for r in rows}


async def save_jobs(
    conn: Conn,
    owner: str,
    rows: list[tuple[int, str, str, int, float | None, str | None, bool]],
    lease_seconds: float,
) -> set[int]:
    """Record a round's progress in one statement; returns the ids still ours (a job
    cancelled or re-leased meanwhile is left alone).

    Row: (id, step, status, attempts, delay seconds or None, last error, keep the lease)."""
    if not rows:
        return set()
    cols = list(zip(*rows, strict=True))
    updated = await conn.fetch(
        """
        UPDATE jobs j SET step = u.step, status = u.status, attempts = u.attempts,
            run_after = CASE WHEN u.delay IS NULL THEN j.run_after
                             ELSE now() + make_interval(secs => u.delay) END,
            last_error = u.err,
            lease_owner = CASE WHEN u.keep THEN j.lease_owner ELSE NULL END,
            lease_until = CASE WHEN u.keep THEN now() + make_interval(secs => $3) ELSE NULL END,
            updated_at = now()
        FROM unnest($2::bigint[], $4::text[], $5::text[], $6::int[], $7::float8[], $8::text[],
                    $9::bool[]) AS u(id, step, status, attempts, delay, err, keep)
        WHERE j.id = u.id AND j.lease_owner = $1 AND j.status = 'queued'
        RETURNING j.id
        """,
        owner,
        list(cols[0]),
        lease_seconds,
        list(cols[1]),
        list(cols[2]),
        list(cols[3]),
        list(cols[4]),
        list(cols[5]),
        list(cols[6]),
    )
    return {r["id"] for r in updated}


async def release_jobs(conn: Conn, job_ids: list[int], owner: str) -> None:
    await conn.execute(
        """UPDATE jobs SET lease_owner = NULL, lease_until = NULL
           WHERE id = ANY($1::bigint[]) AND lease_owner = $2""",
        job_ids,
        owner,
    )


async def mark_revoked(conn: Conn, account_ids: list[uuid.UUID]) -> None:
    """L3 done: accounts revoked, any unread initial password destroyed with them."""
    await conn.execute("DELETE FROM credentials WHERE account_id = ANY($1::uuid[])", account_ids)
    await conn.execute(
        """UPDATE accounts SET status = 'revoked', alert = NULL, updated_at = now(),
               credential_state = CASE WHEN credential_state = 'available' THEN 'expired'
                                       ELSE credential_state END
           WHERE id = ANY($1::uuid[])""",
        account_ids,
    )


async def start_credential_clocks(
    conn: Conn, account_ids: list[uuid.UUID], ttl_seconds: float, now: datetime
) -> None:
    await conn.execute(
        """UPDATE credentials SET expires_at = $3::timestamptz + make_interval(secs => $2)
           WHERE account_id = ANY($1::uuid[]) AND expires_at IS NULL""",
        account_ids,
        ttl_seconds,
        now,
    )
