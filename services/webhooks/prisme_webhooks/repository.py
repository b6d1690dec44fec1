"""All SQL of the webhooks service."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
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
    conn: asyncpg.Connection, *, after: tuple[Any, ...] | None, limit: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT {_ENDPOINT} FROM endpoints WHERE $1::uuid IS NULL OR id > $1
            ORDER BY id LIMIT $2""",  # noqa: S608 - constant column list
        after[0] if after else None,
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


@dataclass(frozen=True)
class NewMessage:
    message_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    occurred_at: datetime


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


async def insert_fanout(
    conn: asyncpg.Connection,
    messages: Sequence[NewMessage],
    pairs: Sequence[tuple[uuid.UUID, uuid.UUID]],
    now: datetime,
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Messages and their (message, endpoint) destinations, in one statement; returns the new
    pairs (the ones that already existed, from an event seen before, are left alone)."""
    rows = await conn.fetch(
        """WITH added AS (
               INSERT INTO messages (id, event_type, payload, occurred_at, created_at)
               SELECT i, t, p::jsonb, o, $6
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[])
                    AS u(i, t, p, o)
               ON CONFLICT (id) DO NOTHING
           )
           INSERT INTO message_destinations (message_id, endpoint_id, created_at, updated_at)
           SELECT m, e, $6, $6 FROM unnest($5::uuid[], $7::uuid[]) AS t(m, e)
           ON CONFLICT DO NOTHING RETURNING message_id, endpoint_id""",
        [m.message_id for m in messages],
        [m.event_type for m in messages],
        [json.dumps(m.payload) for m in messages],
        [m.occurred_at for m in messages],
        [m for m, _ in pairs],
        now,
        [e for _, e in pairs],
    )
    return [(r["message_id"], r["endpoint_id"]) for r in rows]


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


async def delivery_targets(
    conn: asyncpg.Connection, pairs: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], asyncpg.Record]:
    """What each (message, endpoint) delivery needs, in one query; a pair whose endpoint (or
    destination) is gone is absent."""
    rows = await conn.fetch(
        """SELECT d.message_id, d.endpoint_id, e.url, e.enabled, e.secret_kid, e.secret_sealed,
                  e.previous_kid, e.previous_sealed, e.previous_expires_at, m.payload,
                  m.event_type
           FROM unnest($1::uuid[], $2::uuid[]) AS t(message_id, endpoint_id)
           JOIN message_destinations d
             ON d.message_id = t.message_id AND d.endpoint_id = t.endpoint_id
           JOIN endpoints e ON e.id = d.endpoint_id
           JOIN messages m ON m.id = d.message_id""",
        [m for m, _ in pairs],
        [e for _, e in pairs],
    )
    return {(r["message_id"], r["endpoint_id"]): r for r in rows}


@dataclass(frozen=True)
class AttemptRow:
    message_id: uuid.UUID
    endpoint_id: uuid.UUID
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str | None
    trigger: str
    next_attempt_at: datetime | None
    destination_status: str


async def record_attempts(
    conn: asyncpg.Connection, attempts: Sequence[AttemptRow], cleared: Sequence[uuid.UUID]
) -> None:
    """Attempts, their destinations' states, and the failure streak of the ``cleared``
    endpoints ended, in one statement (the same destination twice in a batch — a resend next
    to its scheduled delivery — counts both, keeps the later state)."""
    last: dict[tuple[uuid.UUID, uuid.UUID], AttemptRow] = {}
    count: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    for a in sorted(attempts, key=lambda a: a.attempted_at):
        key = (a.message_id, a.endpoint_id)
        last[key] = a
        count[key] = count.get(key, 0) + 1
    rows = list(last.values())
    await conn.execute(
        """WITH added AS (
               INSERT INTO attempts (id, message_id, endpoint_id, attempted_at, status_code,
                   latency_ms, response_excerpt, error, trigger, next_attempt_at)
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[],
                   $5::int[], $6::int[], $7::text[], $8::text[], $9::text[],
                   $10::timestamptz[])
           ), cleared AS (
               UPDATE endpoints SET failing_since = NULL
               WHERE id = ANY($18::uuid[]) AND failing_since IS NOT NULL
           )
           UPDATE message_destinations d SET status = u.status, attempts = d.attempts + u.n,
               next_attempt_at = u.next_at, last_status_code = u.code, updated_at = u.at
           FROM unnest($11::uuid[], $12::uuid[], $13::text[], $14::int[],
                       $15::timestamptz[], $16::int[], $17::timestamptz[])
                AS u(message_id, endpoint_id, status, n, next_at, code, at)
           WHERE d.message_id = u.message_id AND d.endpoint_id = u.endpoint_id""",
        [uuid.uuid4() for _ in attempts],
        [a.message_id for a in attempts],
        [a.endpoint_id for a in attempts],
        [a.attempted_at for a in attempts],
        [a.status_code for a in attempts],
        [a.latency_ms for a in attempts],
        [a.excerpt for a in attempts],
        [a.error for a in attempts],
        [a.trigger for a in attempts],
        [a.next_attempt_at for a in attempts],
        [a.message_id for a in rows],
        [a.endpoint_id for a in rows],
        [a.destination_status for a in rows],
        [count[(a.message_id, a.endpoint_id)] for a in rows],
        [a.next_attempt_at for a in rows],
        [a.status_code for a in rows],
        [a.attempted_at for a in rows],
        list(cleared),
    )


async def fail_destinations(
    conn: asyncpg.Connection, pairs: Sequence[tuple[uuid.UUID, uuid.UUID]], now: datetime
) -> None:
    await conn.execute(
        """UPDATE message_destinations d SET status = 'failed', next_attempt_at = NULL,
               updated_at = $3
           FROM unnest($1::uuid[], $2::uuid[]) AS t(message_id, endpoint_id)
           WHERE d.message_id = t.message_id AND d.endpoint_id = t.endpoint_id""",
        [m for m, _ in pairs],
        [e for _, e in pairs],
        now,
    )


async def endpoint_messages(
    conn: asyncpg.Connection,
    endpoint_id: uuid.UUID,
    *,
    status: str | None,
    before: tuple[Any, ...] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first; ``before`` is the (created_at, message_id) of the previous page's last."""
    at, last = before if before else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT d.message_id, m.event_type, m.occurred_at, d.status, d.attempts,
                  d.next_attempt_at, d.last_status_code, d.created_at
           FROM message_destinations d JOIN messages m ON m.id = d.message_id
           WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
             AND ($3::timestamptz IS NULL OR (d.created_at, d.message_id) < ($3, $4::uuid))
           ORDER BY d.created_at DESC, d.message_id DESC LIMIT $5""",
        endpoint_id,
        status,
        at,
        last,
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


async def attempts_of(
    conn: asyncpg.Connection,
    message_id: uuid.UUID,
    *,
    after: tuple[Any, ...] | None = None,
    limit: int = 201,
) -> list[asyncpg.Record]:
    """Oldest first; ``after`` is the (attempted_at, id) of the previous page's last."""
    at, last = after if after else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT id, endpoint_id, attempted_at, status_code, latency_ms, response_excerpt,
                  error, trigger, next_attempt_at
           FROM attempts
           WHERE message_id = $1
             AND ($2::timestamptz IS NULL OR (attempted_at, id) > ($2, $3::uuid))
           ORDER BY attempted_at, id LIMIT $4""",
        message_id,
        at,
        last,
        limit,
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
    conn: asyncpg.Connection, *, open_only: bool, limit: int, before: tuple[Any, ...] | None
) -> list[asyncpg.Record]:
    """Newest first; ``before`` is the (raised_at, id) of the previous page's last."""
    at, last = before if before else (None, None)
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM alerts
           WHERE (NOT $1 OR acknowledged_at IS NULL)
             AND ($3::timestamptz IS NULL OR (raised_at, id) < ($3, $4::uuid))
           ORDER BY raised_at DESC, id DESC LIMIT $2""",
        open_only,
        limit,
        at,
        last,
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
