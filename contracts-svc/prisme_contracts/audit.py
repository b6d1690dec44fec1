"""Audit trail of every change (who, what, when, from where, before/after) — DESIGN.md §7."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from . import repository as repo
from .facts import Actor
from .schemas import AuditOut


async def record(
    conn: asyncpg.Connection,
    actor: Actor,
    action: str,
    *,
    entity_type: str,
    entity_id: uuid.UUID | None,
    client_id: uuid.UUID | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await repo.insert_audit(
        conn,
        actor=actor.sub,
        source=actor.source,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        client_id=client_id,
        before=before,
        after=after,
    )


async def read(
    conn: asyncpg.Connection,
    *,
    entity_id: uuid.UUID | None,
    client_id: uuid.UUID | None,
    limit: int,
    after_id: int,
) -> list[AuditOut]:
    rows = await repo.list_audit(
        conn, entity_id=entity_id, client_id=client_id, limit=limit, after_id=after_id
    )
    return [AuditOut.model_validate(dict(r)) for r in rows]
