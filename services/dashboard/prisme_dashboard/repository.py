"""All SQL of the dashboard's own database (operators, sessions, throttle, tokens); its audit
rows go to the chassis' trail (prisme_chassis.audit)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

OPERATOR_COLUMNS = (
    "id, email, name, roles, status, password_hash, must_change_password, totp_seed_sealed,"
    " totp_enabled_at, totp_last_step, oidc_issuer, oidc_subject, created_at, updated_at"
)

# -- operators -------------------------------------------------------------------------------


async def insert_operator(
    conn: asyncpg.Connection,
    *,
    operator_id: uuid.UUID,
    email: str,
    name: str,
    roles: Sequence[str],
    password_hash: str | None,
    must_change_password: bool,
    oidc_issuer: str | None = None,
    oidc_subject: str | None = None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        INSERT INTO operators (id, email, name, roles, password_hash, must_change_password,
                               oidc_issuer, oidc_subject)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING {OPERATOR_COLUMNS}
        """,  # noqa: S608 - a constant column list
        operator_id,
        email,
        name,
        list(roles),
        password_hash,
        must_change_password,
        oidc_issuer,
        oidc_subject,
    )
    assert row is not None
    return row


async def get_operator(
    conn: asyncpg.Connection, operator_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    suffix = " FOR UPDATE" if lock else ""
    return await conn.fetchrow(
        f"SELECT {OPERATOR_COLUMNS} FROM operators WHERE id = $1{suffix}",  # noqa: S608
        operator_id,
    )


async def find_operator_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {OPERATOR_COLUMNS} FROM operators WHERE email = $1",  # noqa: S608
        email,
    )


async def find_operator_by_oidc(
    conn: asyncpg.Connection, issuer: str, subject: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {OPERATOR_COLUMNS} FROM operators"  # noqa: S608
        " WHERE oidc_issuer = $1 AND oidc_subject = $2",
        issuer,
        subject,
    )


async def list_operators(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {OPERATOR_COLUMNS} FROM operators ORDER BY email"  # noqa: S608
    )


async def count_operators(conn: asyncpg.Connection) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM operators")
    return count


async def update_operator(
    conn: asyncpg.Connection, operator_id: uuid.UUID, **values: Any
) -> asyncpg.Record:
    """Set ``values`` (column names chosen by the code, never by input)."""
    columns = list(values)
    assignments = ", ".join(f"{column} = ${index + 2}" for index, column in enumerate(columns))
    row = await conn.fetchrow(
        f"UPDATE operators SET {assignments}, updated_at = now() WHERE id = $1"  # noqa: S608
        f" RETURNING {OPERATOR_COLUMNS}",
        operator_id,
        *values.values(),
    )
    assert row is not None
    return row


async def replace_recovery_codes(
    conn: asyncpg.Connection, operator_id: uuid.UUID, code_hashes: Sequence[bytes]
) -> None:
    await conn.execute("DELETE FROM recovery_codes WHERE operator_id = $1", operator_id)
    await conn.executemany(
        "INSERT INTO recovery_codes (operator_id, code_hash) VALUES ($1, $2)",
        [(operator_id, code_hash) for code_hash in code_hashes],
    )


async def use_recovery_code(
    conn: asyncpg.Connection, operator_id: uuid.UUID, code_hash: bytes, now: datetime
) -> bool:
    done = await conn.fetchval(
        "UPDATE recovery_codes SET used_at = $3"
        " WHERE operator_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING true",
        operator_id,
        code_hash,
        now,
    )
    return done is True


async def count_recovery_codes(conn: asyncpg.Connection, operator_id: uuid.UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM recovery_codes WHERE operator_id = $1 AND used_at IS NULL",
        operator_id,
    )
    return count


# -- sessions --------------------------------------------------------------------------------


async def insert_session(conn: asyncpg.Connection, **values: Any) -> asyncpg.Record:
    columns = list(values)
    placeholders = ", ".join(f"${index + 1}" for index in range(len(columns)))
    row = await conn.fetchrow(
        f"INSERT INTO sessions ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
        " RETURNING *",
        *values.values(),
    )
    assert row is not None
    return row


async def session_by_token_hash(
    conn: asyncpg.Connection, token_hash: bytes
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT s.*, o.status AS operator_status FROM sessions s"
        " JOIN operators o ON o.id = s.operator_id WHERE s.token_hash = $1",
        token_hash,
    )


async def touch_session(conn: asyncpg.Connection, session_id: uuid.UUID, now: datetime) -> None:
    await conn.execute("UPDATE sessions SET last_seen_at = $2 WHERE id = $1", session_id, now)


async def end_session(
    conn: asyncpg.Connection, session_id: uuid.UUID, now: datetime, reason: str
) -> bool:
    done = await conn.fetchval(
        "UPDATE sessions SET ended_at = $2, end_reason = $3"
        " WHERE id = $1 AND ended_at IS NULL RETURNING true",
        session_id,
        now,
        reason,
    )
    return done is True


async def end_operator_sessions(
    conn: asyncpg.Connection,
    operator_id: uuid.UUID,
    now: datetime,
    reason: str,
    *,
    keep: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "UPDATE sessions SET ended_at = $2, end_reason = $3"
        " WHERE operator_id = $1 AND ended_at IS NULL AND id IS DISTINCT FROM $4 RETURNING id",
        operator_id,
        now,
        reason,
        keep,
    )
    return [row["id"] for row in rows]


async def open_sessions(
    conn: asyncpg.Connection, operator_id: uuid.UUID | None, now: datetime
) -> list[asyncpg.Record]:
    """Sessions not ended nor past their absolute expiry (all operators when None)."""
    return await conn.fetch(
        "SELECT s.id, s.operator_id, s.stage, s.address, s.user_agent, s.created_at,"
        " s.last_seen_at, s.expires_at, o.email, o.name FROM sessions s"
        " JOIN operators o ON o.id = s.operator_id"
        " WHERE s.ended_at IS NULL AND s.expires_at > $2"
        " AND ($1::uuid IS NULL OR s.operator_id = $1) ORDER BY s.last_seen_at DESC",
        operator_id,
        now,
    )


async def get_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM sessions WHERE id = $1", session_id)


# -- sign-in throttle ------------------------------------------------------------------------


async def failures(conn: asyncpg.Connection, keys: Sequence[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT key, failures, last_failure_at FROM sign_in_failures WHERE key = ANY($1)",
        list(keys),
    )


async def record_failure(conn: asyncpg.Connection, keys: Sequence[str], now: datetime) -> None:
    await conn.executemany(
        """
        INSERT INTO sign_in_failures (key, failures, last_failure_at) VALUES ($1, 1, $2)
        ON CONFLICT (key) DO UPDATE
            SET failures = sign_in_failures.failures + 1, last_failure_at = excluded.last_failure_at
        """,
        [(key, now) for key in keys],
    )


async def clear_failures(conn: asyncpg.Connection, keys: Sequence[str]) -> None:
    await conn.execute("DELETE FROM sign_in_failures WHERE key = ANY($1)", list(keys))


# -- integration tokens ----------------------------------------------------------------------


async def insert_token(conn: asyncpg.Connection, **values: Any) -> asyncpg.Record:
    columns = list(values)
    placeholders = ", ".join(f"${index + 1}" for index in range(len(columns)))
    row = await conn.fetchrow(
        f"INSERT INTO integration_tokens ({', '.join(columns)})"  # noqa: S608
        f" VALUES ({placeholders}) RETURNING *",
        *values.values(),
    )
    assert row is not None
    return row


async def list_tokens(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT t.*, o.name AS created_by_name FROM integration_tokens t"
        " LEFT JOIN operators o ON o.id = t.created_by ORDER BY t.revoked_at NULLS FIRST, t.name"
    )


async def revoke_token(
    conn: asyncpg.Connection, token_id: uuid.UUID, by: uuid.UUID, now: datetime
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE integration_tokens SET revoked_at = $3, revoked_by = $2"
        " WHERE id = $1 AND revoked_at IS NULL RETURNING *",
        token_id,
        by,
        now,
    )


async def revoked_live_tokens(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, expires_at FROM integration_tokens"
        " WHERE revoked_at IS NOT NULL AND expires_at > $1",
        now,
    )
