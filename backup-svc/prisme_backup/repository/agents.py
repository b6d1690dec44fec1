"""Enrolment tokens and the agents enrolled with them."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from .rows import Row


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
