"""Sealed initial passwords: stored, taken once, destroyed, expired."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from .db import Conn


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
