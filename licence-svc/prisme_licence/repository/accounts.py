"""Accounts: one per licensed user, their Graph state and alerts, changed one by one or many in
one statement."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from .db import Conn


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
    conn: Conn,
    client_id: uuid.UUID | None,
    contract_id: uuid.UUID | None,
    *,
    limit: int,
    after: tuple[uuid.UUID, str, uuid.UUID] | None = None,
    status: str | None = None,
) -> list[asyncpg.Record]:
    """By practice then UPN (the id breaking ties), those after the key ``after``."""
    return list(
        await conn.fetch(
            """SELECT * FROM accounts WHERE ($1::uuid IS NULL OR client_id = $1)
               AND ($2::uuid IS NULL OR contract_id = $2)
               AND ($7::text IS NULL OR status = $7)
               AND ($4::uuid IS NULL OR (client_id, upn, id) > ($4, $5::text, $6::uuid))
               ORDER BY client_id, upn, id LIMIT $3""",
            client_id,
            contract_id,
            limit,
            *(after or (None, None, None)),
            status,
        )
    )


async def account_counts(conn: Conn, client_id: uuid.UUID | None) -> list[asyncpg.Record]:
    """(sku, status, n) over the accounts, of one practice or of all."""
    return list(
        await conn.fetch(
            """SELECT sku, status, count(*) AS n FROM accounts
               WHERE ($1::uuid IS NULL OR client_id = $1) GROUP BY sku, status ORDER BY sku""",
            client_id,
        )
    )


async def list_alerts(
    conn: Conn,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
    client_id: uuid.UUID | None = None,
) -> list[asyncpg.Record]:
    """Accounts with an alert, oldest change first (the id breaking ties), after ``after``."""
    return list(
        await conn.fetch(
            """SELECT * FROM accounts WHERE alert IS NOT NULL
               AND ($4::uuid IS NULL OR client_id = $4)
               AND ($2::timestamptz IS NULL OR (updated_at, id) > ($2, $3::uuid))
               ORDER BY updated_at, id LIMIT $1""",
            limit,
            *(after or (None, None)),
            client_id,
        )
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
