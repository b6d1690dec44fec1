"""SQL: four-eyes requests (O2); their audit rows go to the chassis' trail (O3)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg


def payload_hash(payload: dict[str, Any]) -> str:
    """SHA-256 of the payload's canonical JSON: what the checker approves is what runs."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def insert_approval(
    conn: asyncpg.Connection,
    *,
    kind: str,
    target_id: uuid.UUID | None,
    payload: dict[str, Any],
    reason: str,
    maker: str,
    maker_name: str | None,
    expires_at: datetime,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        INSERT INTO approvals (id, kind, target_id, payload, payload_hash, reason, maker,
                               maker_name, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *
        """,
        uuid.uuid4(),
        kind,
        target_id,
        payload,
        payload_hash(payload),
        reason,
        maker,
        maker_name,
        expires_at,
    )
    assert row is not None
    return row


async def approval(
    conn: asyncpg.Connection, approval_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    if lock:
        return await conn.fetchrow("SELECT * FROM approvals WHERE id = $1 FOR UPDATE", approval_id)
    return await conn.fetchrow("SELECT * FROM approvals WHERE id = $1", approval_id)


async def decide_approval(
    conn: asyncpg.Connection,
    approval_id: uuid.UUID,
    *,
    status: str,
    checker: str | None,
    checker_name: str | None,
    note: str | None,
    result_id: uuid.UUID | None = None,
    result_version: int | None = None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """
        UPDATE approvals SET status = $2, checker = $3, checker_name = $4, note = $5,
            result_id = $6, result_version = $7, decided_at = clock_timestamp()
        WHERE id = $1 AND status = 'pending' RETURNING *
        """,
        approval_id,
        status,
        checker,
        checker_name,
        note,
        result_id,
        result_version,
    )
    assert row is not None, "decide a pending approval only, under its row lock"
    return row
