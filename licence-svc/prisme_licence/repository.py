"""All SQL of licence-svc."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


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


async def locked_contracts(
    conn: Conn, contract_ids: list[uuid.UUID]
) -> dict[uuid.UUID, asyncpg.Record]:
    """:func:`locked_contract` for many contracts (a batch of ``contract.ended``): the same
    per-contract locks, taken in one order so two batches never deadlock."""
    await conn.execute(
        """SELECT pg_advisory_xact_lock(hashtextextended(i, 0))
           FROM (SELECT i FROM unnest($1::text[]) AS t(i) ORDER BY i) s""",
        sorted(str(c) for c in contract_ids),
    )
    rows = await conn.fetch(
        "SELECT * FROM contracts WHERE contract_id = ANY($1::uuid[]) FOR UPDATE", contract_ids
    )
    return {r["contract_id"]: r for r in rows}


async def save_contracts(
    conn: Conn, rows: Sequence[tuple[uuid.UUID, uuid.UUID, int, bool, str, int]]
) -> None:
    """:func:`save_contract` for many: (contract, client, year, includes_m365, status, version)."""
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    await conn.execute(
        """
        INSERT INTO contracts (contract_id, client_id, year, includes_m365, status, version)
        SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::bool[], $5::text[],
                             $6::int[])
        ON CONFLICT (contract_id) DO UPDATE SET
            status = EXCLUDED.status, version = EXCLUDED.version, year = EXCLUDED.year,
            includes_m365 = EXCLUDED.includes_m365
        """,
        *[list(c) for c in cols],
    )


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


async def purge_expired_credentials(conn: Conn, now: datetime) -> list[asyncpg.Record]:
    """Destroy the sealed passwords expired at ``now``; the accounts they were for
    (id, client_id, upn)."""
    rows = await conn.fetch(
        "DELETE FROM credentials WHERE expires_at <= $1 RETURNING account_id", now
    )
    ids = [r["account_id"] for r in rows]
    if not ids:
        return []
    await conn.execute(
        "UPDATE accounts SET credential_state = 'expired' WHERE id = ANY($1::uuid[]) AND credential_state = 'available'",
        ids,
    )
    return list(
        await conn.fetch(
            "SELECT id, client_id, upn FROM accounts WHERE id = ANY($1::uuid[]) ORDER BY id", ids
        )
    )


async def live_accounts_of_contracts(
    conn: Conn, contract_ids: list[uuid.UUID]
) -> list[asyncpg.Record]:
    """The accounts of these contracts that a revocation still concerns, locked (L3)."""
    return list(
        await conn.fetch(
            """SELECT id, user_id, graph_tenant, contract_id, client_id, upn FROM accounts
               WHERE contract_id = ANY($1::uuid[]) AND status IN ('pending', 'active', 'failed')
               ORDER BY id FOR UPDATE""",
            contract_ids,
        )
    )


_ACCOUNT_FIELDS = ("status", "graph_user_id", "alert", "upn", "credential_state")


async def update_accounts(conn: Conn, changes: list[tuple[uuid.UUID, dict[str, Any]]]) -> None:
    """Many accounts' changes in one statement; a field absent from an account's dict is left
    as it is (a field given as None is set to NULL)."""
    if not changes:
        return
    for _, fields in changes:
        if set(fields) - set(_ACCOUNT_FIELDS):
            raise ValueError(f"bad account fields {sorted(fields)}")
    ids = [aid for aid, _ in changes]
    cols: list[Any] = [ids]
    for name in _ACCOUNT_FIELDS:
        cols.append([name in f for _, f in changes])
        cols.append([f.get(name) for _, f in changes])
    await conn.execute(
        """
        UPDATE accounts a SET
            status = CASE WHEN u.s_status THEN u.status ELSE a.status END,
            graph_user_id = CASE WHEN u.s_gid THEN u.gid ELSE a.graph_user_id END,
            alert = CASE WHEN u.s_alert THEN u.alert ELSE a.alert END,
            upn = CASE WHEN u.s_upn THEN u.upn ELSE a.upn END,
            credential_state = CASE WHEN u.s_cred THEN u.cred ELSE a.credential_state END,
            updated_at = now()
        FROM unnest($1::uuid[], $2::bool[], $3::text[], $4::bool[], $5::text[], $6::bool[],
                    $7::text[], $8::bool[], $9::text[], $10::bool[], $11::text[])
             AS u(id, s_status, status, s_gid, gid, s_alert, alert, s_upn, upn, s_cred, cred)
        WHERE a.id = u.id
        """,
        *cols,
    )


async def credentials_of(
    conn: Conn, account_ids: list[uuid.UUID]
) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT account_id, nonce, ciphertext FROM credentials WHERE account_id = ANY($1::uuid[])",
        account_ids,
    )
    return {r["account_id"]: r for r in rows}


async def insert_credentials(conn: Conn, rows: list[tuple[uuid.UUID, bytes, bytes]]) -> None:
    """Sealed initial passwords of many accounts in one statement (then ``available``)."""
    if not rows:
        return
    ids = [r[0] for r in rows]
    await conn.execute(
        """INSERT INTO credentials (account_id, nonce, ciphertext)
           SELECT * FROM unnest($1::uuid[], $2::bytea[], $3::bytea[]) ON CONFLICT DO NOTHING""",
        ids,
        [r[1] for r in rows],
        [r[2] for r in rows],
    )
    await conn.execute(
        "UPDATE accounts SET credential_state = 'available' WHERE id = ANY($1::uuid[])", ids
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
