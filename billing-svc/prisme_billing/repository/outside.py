"""SQL: durable Stripe jobs, the webhook log and reconciliation marks (B8, R3)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

# --- Stripe jobs (durable outside calls) ------------------------------------------------------


async def enqueue_job(conn: asyncpg.Connection, kind: str, document_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO stripe_jobs (id, kind, document_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (kind, document_id) DO NOTHING",
        uuid.uuid4(),
        kind,
        document_id,
    )


async def claim_job(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The next due job, locked for this transaction (other workers skip it)."""
    return await conn.fetchrow(
        """
        SELECT * FROM stripe_jobs WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at FOR UPDATE SKIP LOCKED LIMIT 1
        """
    )


async def finish_job(conn: asyncpg.Connection, job_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE stripe_jobs SET status = 'done', done_at = now(), attempts = attempts + 1"
        " WHERE id = $1",
        job_id,
    )


async def retry_job(
    conn: asyncpg.Connection, job_id: uuid.UUID, error: str, delay_s: float, give_up: bool
) -> None:
    await conn.execute(
        """
        UPDATE stripe_jobs SET attempts = attempts + 1, last_error = $2,
            next_attempt_at = now() + make_interval(secs => $3),
            status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END
        WHERE id = $1
        """,
        job_id,
        error[:2000],
        delay_s,
        give_up,
    )


async def job_status(conn: asyncpg.Connection, kind: str, document_id: uuid.UUID) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT status FROM stripe_jobs WHERE kind = $1 AND document_id = $2", kind, document_id
    )
    return value


async def jobs(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM stripe_jobs ORDER BY created_at")


# --- webhook log (B8, R3) ------------------------------------------------------------------


async def store_webhook(
    conn: asyncpg.Connection,
    source: str,
    external_id: str,
    type_: str,
    payload: dict[str, Any],
    via: str,
) -> bool:
    """Store an inbound event once; ``False`` for a replay of one already stored."""
    status = await conn.execute(
        "INSERT INTO webhook_events (source, external_id, type, payload, received_via)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, external_id) DO NOTHING",
        source,
        external_id,
        type_,
        payload,
        via,
    )
    return bool(status == "INSERT 0 1")


async def claim_webhook(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT * FROM webhook_events WHERE processed_at IS NULL AND attempts < 20
        ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1
        """
    )


async def webhook_done(conn: asyncpg.Connection, row_id: int) -> None:
    await conn.execute(
        "UPDATE webhook_events SET processed_at = now(), attempts = attempts + 1 WHERE id = $1",
        row_id,
    )


async def webhook_failed(conn: asyncpg.Connection, row_id: int, error: str) -> None:
    await conn.execute(
        "UPDATE webhook_events SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
        row_id,
        error[:2000],
    )


async def reconciliation_mark(conn: asyncpg.Connection, source: str) -> int | None:
    value: int | None = await conn.fetchval(
        "SELECT checked_to FROM reconciliation_state WHERE source = $1", source
    )
    return value


async def set_reconciliation_mark(conn: asyncpg.Connection, source: str, checked_to: int) -> None:
    await conn.execute(
        "INSERT INTO reconciliation_state (source, checked_to) VALUES ($1, $2)"
        " ON CONFLICT (source) DO UPDATE SET checked_to = greatest(reconciliation_state.checked_to,"
        " EXCLUDED.checked_to), updated_at = now()",
        source,
        checked_to,
    )


async def backlog(conn: asyncpg.Connection) -> dict[str, int]:
    """What the Stripe worker still has to do, and what it gave up on."""
    row = await conn.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM stripe_jobs WHERE status = 'pending') AS jobs_pending,
          (SELECT count(*) FROM stripe_jobs WHERE status = 'failed') AS jobs_failed,
          (SELECT count(*) FROM webhook_events WHERE processed_at IS NULL AND attempts < 20)
              AS webhooks_pending,
          (SELECT count(*) FROM webhook_events WHERE processed_at IS NULL AND attempts >= 20)
              AS webhooks_failed
        """
    )
    assert row is not None
    return {key: int(value) for key, value in row.items()}
