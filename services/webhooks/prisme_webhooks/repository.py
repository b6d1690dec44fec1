"""All SQL of the webhooks service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg

_ENDPOINT = """id, url, description, event_types, enabled, disabled_reason, secret_kid,
    secret_sealed, previous_kid, previous_sealed, previous_expires_at, failing_since,
    created_by, created_at, updated_at"""

# -- endpoints --------------------------------------------------------------------------------


async def insert_endpoint(
    conn: asyncpg.Connection,
    *,
    endpoint_id: uuid.UUID,
    url: str,
    description: str,
    event_types: Sequence[str],
    enabled: bool,
    secret_kid: str,
    secret_sealed: bytes,
    created_by: str,
    now: datetime,
) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""INSERT INTO endpoints (id, url, description, event_types, enabled, secret_kid,
                secret_sealed, created_by, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {_ENDPOINT}""",  # noqa: S608 - constant column list
        endpoint_id,
        url,
        description,
        list(event_types),
        enabled,
        secret_kid,
        secret_sealed,
        created_by,
        now,
    )
    assert row is not None
    return row


async def get_endpoint(
    conn: asyncpg.Connection, endpoint_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    suffix = " FOR UPDATE" if lock else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_ENDPOINT} FROM endpoints WHERE id = $1{suffix}",  # noqa: S608 - constants
        endpoint_id,
    )
    return row


async def list_endpoints(
    conn: asyncpg.Connection, *, after: uuid.UUID | None, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {_ENDPOINT} FROM endpoints WHERE $1::uuid IS NULL OR id > $1
            ORDER BY id LIMIT $2""",  # noqa: S608 - constant column list
        after,
        limit,
    )
    return rows


async def update_endpoint(
    conn: asyncpg.Connection, endpoint_id: uuid.UUID, changes: dict[str, Any], now: datetime
) -> asyncpg.Record | None:
    allowed = {"url", "description", "event_types", "enabled", "disabled_reason", "failing_since"}
    if not set(changes) <= allowed:
        raise ValueError(f"cannot change {sorted(set(changes) - allowed)}")
    sets = [f"{column} = ${i}" for i, column in enumerate(changes, start=3)]
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""UPDATE endpoints SET updated_at = $2{"".join(", " + s for s in sets)}
            WHERE id = $1 RETURNING {_ENDPOINT}""",  # noqa: S608 - constant column list
        endpoint_id,
        now,
        *changes.values(),
    )
    return row


async def delete_endpoint(conn: asyncpg.Connection, endpoint_id: uuid.UUID) -> bool:
    return bool(
        await conn.fetchval("DELETE FROM endpoints WHERE id = $1 RETURNING true", endpoint_id)
    )


async def rotate_secret(
    conn: asyncpg.Connection,
    endpoint_id: uuid.UUID,
    *,
    kid: str,
    sealed: bytes,
    previous_expires_at: datetime,
    now: datetime,
) -> None:
    await conn.execute(
        """UPDATE endpoints SET previous_kid = secret_kid, previous_sealed = secret_sealed,
               previous_expires_at = $4, secret_kid = $2, secret_sealed = $3, updated_at = $5
           WHERE id = $1""",
        endpoint_id,
        kid,
        sealed,
        previous_expires_at,
        now,
    )


async def subscribed_endpoints(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, event_types FROM endpoints WHERE enabled"
    )
    return rows


async def mark_failing(conn: asyncpg.Connection, endpoint_id: uuid.UUID, now: datetime) -> datetime:
    since: datetime = await conn.fetchval(
        """UPDATE endpoints SET failing_since = coalesce(failing_since, $2)
           WHERE id = $1 RETURNING failing_since""",
        endpoint_id,
        now,
    )
    return since


async def clear_failing(conn: asyncpg.Connection, endpoint_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
        endpoint_id,
    )


async def disable_endpoint(
    conn: asyncpg.Connection, endpoint_id: uuid.UUID, reason: str, now: datetime
) -> bool:
    """Disable it; False when it already was (so the event is published once)."""
    return bool(
        await conn.fetchval(
            """UPDATE endpoints SET enabled = false, disabled_reason = $2, updated_at = $3
               WHERE id = $1 AND enabled RETURNING true""",
            endpoint_id,
            reason,
            now,
        )
    )


# -- messages and destinations ----------------------------------------------------------------


async def insert_message(
    conn: asyncpg.Connection,
    *,
    message_id: uuid.UUID,
    event_type: str,
    payload: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO messages (id, event_type, payload, occurred_at, created_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING""",
        message_id,
        event_type,
        payload,
        occurred_at,
        now,
    )


async def insert_destinations(
    conn: asyncpg.Connection,
    message_id: uuid.UUID,
    endpoint_ids: Sequence[uuid.UUID],
    now: datetime,
) -> list[uuid.UUID]:
    """New (message, endpoint) pairs; the ones that already existed are left alone."""
    rows = await conn.fetch(
        """INSERT INTO message_destinations (message_id, endpoint_id, created_at, updated_at)
           SELECT $1, e, $3, $3 FROM unnest($2::uuid[]) AS e
           ON CONFLICT DO NOTHING RETURNING endpoint_id""",
        message_id,
        list(endpoint_ids),
        now,
    )
    return [r["endpoint_id"] for r in rows]


async def reopen_destination(
    conn: asyncpg.Connection, message_id: uuid.UUID, endpoint_id: uuid.UUID, now: datetime
) -> None:
    await conn.execute(
        """UPDATE message_destinations SET status = 'pending', updated_at = $3
           WHERE message_id = $1 AND endpoint_id = $2""",
        message_id,
        endpoint_id,
        now,
    )


async def delivery_target(
    conn: asyncpg.Connection, message_id: uuid.UUID, endpoint_id: uuid.UUID
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        """SELECT e.url, e.enabled, e.secret_kid, e.secret_sealed, e.previous_kid,
                  e.previous_sealed, e.previous_expires_at, m.payload, m.event_type
           FROM message_destinations d
           JOIN endpoints e ON e.id = d.endpoint_id
           JOIN messages m ON m.id = d.message_id
           WHERE d.message_id = $1 AND d.endpoint_id = $2""",
        message_id,
        endpoint_id,
    )
    return row


async def record_attempt(
    conn: asyncpg.Connection,
    *,
    message_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    attempted_at: datetime,
    status_code: int | None,
    latency_ms: int,
    excerpt: str,
    error: str | None,
    trigger: str,
    next_attempt_at: datetime | None,
    destination_status: str,
) -> None:
    await conn.execute(
        """INSERT INTO attempts (id, message_id, endpoint_id, attempted_at, status_code,
               latency_ms, response_excerpt, error, trigger, next_attempt_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        uuid.uuid4(),
        message_id,
        endpoint_id,
        attempted_at,
        status_code,
        latency_ms,
        excerpt,
        error,
        trigger,
        next_attempt_at,
    )
    await conn.execute(
        """UPDATE message_destinations SET status = $3, attempts = attempts + 1,
               next_attempt_at = $4, last_status_code = $5, updated_at = $6
           WHERE message_id = $1 AND endpoint_id = $2""",
        message_id,
        endpoint_id,
        destination_status,
        next_attempt_at,
        status_code,
        attempted_at,
    )


async def fail_destination(
    conn: asyncpg.Connection, message_id: uuid.UUID, endpoint_id: uuid.UUID, now: datetime
) -> None:
    await conn.execute(
        """UPDATE message_destinations SET status = 'failed', next_attempt_at = NULL,
               updated_at = $3 WHERE message_id = $1 AND endpoint_id = $2""",
        message_id,
        endpoint_id,
        now,
    )


async def endpoint_messages(
    conn: asyncpg.Connection,
    endpoint_id: uuid.UUID,
    *,
    status: str | None,
    before: datetime | None,
    limit: int,
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT d.message_id, m.event_type, m.occurred_at, d.status, d.attempts,
                  d.next_attempt_at, d.last_status_code, d.created_at
           FROM message_destinations d JOIN messages m ON m.id = d.message_id
           WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
             AND ($3::timestamptz IS NULL OR d.created_at < $3)
           ORDER BY d.created_at DESC, d.message_id LIMIT $4""",
        endpoint_id,
        status,
        before,
        limit,
    )
    return rows


async def message_exists(conn: asyncpg.Connection, message_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT true FROM messages WHERE id = $1", message_id))


async def destinations_of(
    conn: asyncpg.Connection, message_id: uuid.UUID, endpoint_id: uuid.UUID | None
) -> list[uuid.UUID]:
    rows = await conn.fetch(
        """SELECT endpoint_id FROM message_destinations
           WHERE message_id = $1 AND ($2::uuid IS NULL OR endpoint_id = $2)""",
        message_id,
        endpoint_id,
    )
    return [r["endpoint_id"] for r in rows]


async def failed_since(
    conn: asyncpg.Connection, endpoint_id: uuid.UUID, since: datetime
) -> list[uuid.UUID]:
    rows = await conn.fetch(
        """SELECT message_id FROM message_destinations
           WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2
           ORDER BY created_at""",
        endpoint_id,
        since,
    )
    return [r["message_id"] for r in rows]


async def attempts_of(conn: asyncpg.Connection, message_id: uuid.UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT id, endpoint_id, attempted_at, status_code, latency_ms, response_excerpt,
                  error, trigger, next_attempt_at
           FROM attempts WHERE message_id = $1 ORDER BY attempted_at, id""",
        message_id,
    )
    return rows


# -- alerts -----------------------------------------------------------------------------------


async def insert_alert(
    conn: asyncpg.Connection,
    *,
    dedup_key: str,
    rule: str,
    urgent: bool,
    audience: str,
    subject: str,
    body: str,
    raised_at: datetime,
    deliver_at: datetime,
) -> uuid.UUID | None:
    """The new alert's id; None when this cause already raised one."""
    alert_id: uuid.UUID | None = await conn.fetchval(
        """INSERT INTO alerts (id, dedup_key, rule, urgent, audience, subject, body, raised_at,
               deliver_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (dedup_key) DO NOTHING RETURNING id""",
        uuid.uuid4(),
        dedup_key,
        rule,
        urgent,
        audience,
        subject,
        body,
        raised_at,
        deliver_at,
    )
    return alert_id


async def get_alert(conn: asyncpg.Connection, alert_id: uuid.UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow("SELECT * FROM alerts WHERE id = $1", alert_id)
    return row


async def mark_alert_sent(conn: asyncpg.Connection, alert_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE alerts SET sent_at = coalesce(sent_at, $2) WHERE id = $1", alert_id, now
    )


async def list_alerts(
    conn: asyncpg.Connection, *, open_only: bool, limit: int, before: datetime | None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM alerts
           WHERE (NOT $1 OR acknowledged_at IS NULL)
             AND ($3::timestamptz IS NULL OR raised_at < $3)
           ORDER BY raised_at DESC, id LIMIT $2""",
        open_only,
        limit,
        before,
    )
    return rows


async def acknowledge_alert(
    conn: asyncpg.Connection, alert_id: uuid.UUID, who: str, now: datetime
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        """UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, $3),
               acknowledged_by = coalesce(acknowledged_by, $2)
           WHERE id = $1 RETURNING *""",
        alert_id,
        who,
        now,
    )
    return row


async def open_alerts(
    conn: asyncpg.Connection, audience: str, before: datetime
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM alerts WHERE acknowledged_at IS NULL AND audience = $1
             AND raised_at < $2 ORDER BY raised_at""",
        audience,
        before,
    )
    return rows


async def claim_digest(conn: asyncpg.Connection, day: date, now: datetime) -> bool:
    return bool(
        await conn.fetchval(
            """INSERT INTO digests (day, alerts, created_at) VALUES ($1, 0, $2)
               ON CONFLICT DO NOTHING RETURNING true""",
            day,
            now,
        )
    )
