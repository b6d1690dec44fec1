"""All SQL of the audit trail (table ``audit_trail``, chassis migration 005)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from .model import AuditEntry

_COLUMNS = (
    "id, at, actor, actor_name, action, target_type, target_id, client_id, reason, address,"
    " request_id, trace_id, before, after, detail"
)


async def insert(conn: asyncpg.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert already-redacted rows (every key of :func:`prisme_chassis.audit.row`) in one
    statement whatever their number (one array per column, unnested server-side): a set-based
    handler's thousand rows cost one round trip, not a thousand."""
    if not rows:
        return

    def column(key: str) -> list[Any]:
        return [r[key] for r in rows]

    def jsonb(key: str) -> list[str | None]:
        return [None if r[key] is None else json.dumps(r[key]) for r in rows]

    await conn.execute(
        "INSERT INTO audit_trail (at, actor, actor_name, action, target_type, target_id,"
        " client_id, reason, address, request_id, trace_id, before, after, detail)"
        " SELECT at, actor, actor_name, action, target_type, target_id, client_id, reason,"
        " address, request_id, trace_id, before::jsonb, after::jsonb, detail::jsonb"
        " FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::text[], $7::uuid[], $8::text[], $9::text[], $10::text[], $11::text[],"
        " $12::text[], $13::text[], $14::text[])"
        " AS t(at, actor, actor_name, action, target_type, target_id, client_id, reason,"
        " address, request_id, trace_id, before, after, detail)",
        column("at"),
        column("actor"),
        column("actor_name"),
        column("action"),
        column("target_type"),
        column("target_id"),
        column("client_id"),
        column("reason"),
        column("address"),
        column("request_id"),
        column("trace_id"),
        jsonb("before"),
        jsonb("after"),
        jsonb("detail"),
    )


@dataclass(frozen=True)
class Filters:
    """What ``GET /v1/audit`` narrows the trail to (``None``: no condition)."""

    actor: str | None = None
    target: str | None = None
    target_type: str | None = None
    action: str | None = None
    client_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None


def _entry(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        actor_name=row["actor_name"],
        action=row["action"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        client_id=row["client_id"],
        reason=row["reason"],
        address=row["address"],
        request_id=row["request_id"],
        trace_id=row["trace_id"],
        before=row["before"],
        after=row["after"],
        detail=row["detail"],
    )


async def page(
    conn: asyncpg.Connection,
    filters: Filters,
    *,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int,
    oldest_first: bool = False,
) -> list[AuditEntry]:
    """Newest first (or ``oldest_first``), ids below ``before_id`` and above ``after_id`` (the
    cursor); ``action`` ending in ``.*`` is a prefix (``contract.*``)."""
    action: str | None = filters.action
    prefix: str | None = None
    if filters.action is not None and filters.action.endswith("*"):
        action, prefix = None, filters.action[:-1]
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM audit_trail"  # noqa: S608 - constant column list
        " WHERE ($1::text IS NULL OR actor = $1)"
        " AND ($2::text IS NULL OR target_id = $2)"
        " AND ($3::text IS NULL OR target_type = $3)"
        " AND ($4::text IS NULL OR action = $4)"
        " AND ($5::text IS NULL OR starts_with(action, $5))"
        " AND ($6::uuid IS NULL OR client_id = $6)"
        " AND ($7::timestamptz IS NULL OR at >= $7)"
        " AND ($8::timestamptz IS NULL OR at < $8)"
        " AND ($9::bigint IS NULL OR id < $9)"
        " AND ($11::bigint IS NULL OR id > $11)"
        f" ORDER BY {'id' if oldest_first else 'id DESC'} LIMIT $10",
        filters.actor,
        filters.target,
        filters.target_type,
        action,
        prefix,
        filters.client_id,
        filters.since,
        filters.until,
        before_id,
        limit,
        after_id,
    )
    return [_entry(r) for r in rows]
