"""``GET /v1/audit`` on every service (DESIGN §4, O3), mounted by the app factory.

Filters: ``actor`` (a token's ``sub``), ``target`` (the changed thing's id), ``target_type``,
``action`` (exact, or a prefix ending in ``*``: ``contract.*``), ``client_id`` (the practice),
``since`` (inclusive) and ``until`` (exclusive). Newest first, ``limit`` rows a page; the
answer's ``next_cursor`` is given back as ``cursor`` for the next page. Reading asks the
service's read scope (``<area>:read``; ``admin`` when the service has no area).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, cast

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from .. import pagination
from ..auth import Principal, require_scopes
from ..errors import problems
from ..wire import IsoDatetime
from . import repository as repo
from .model import AuditEntry


class AuditEntryOut(BaseModel):
    """Who did what, when, from where and why; ``before``/``after`` hold facts, never secrets."""

    id: int
    at: datetime
    actor: str = Field(description="the token's sub: operator id, integration:<id>, system:<what>")
    actor_name: str | None = Field(description="the operator's (or token's) name")
    action: str
    target_type: str | None
    target_id: str | None
    client_id: uuid.UUID | None = Field(description="the practice concerned")
    reason: str | None
    address: str | None = Field(description="the caller's IP address")
    request_id: str | None
    trace_id: str | None
    before: Any = None
    after: Any = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            actor_name=entry.actor_name,
            action=entry.action,
            target_type=entry.target_type,
            target_id=entry.target_id,
            client_id=entry.client_id,
            reason=entry.reason,
            address=entry.address,
            request_id=entry.request_id,
            trace_id=entry.trace_id,
            before=entry.before,
            after=entry.after,
            detail=dict(entry.detail),
        )


#: A page of the trail, newest first (the chassis' page: ``items``, ``next_cursor``).
AuditPage = pagination.Page[AuditEntryOut]


async def _connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    pool: asyncpg.Pool = request.app.state.runtime.pool
    async with pool.acquire() as conn:
        yield cast(asyncpg.Connection, conn)


Conn = Annotated[asyncpg.Connection, Depends(_connection, scope="function")]


Text = Annotated[str | None, Query(max_length=200)]


def audit_router(area: str | None) -> APIRouter:
    """The route, guarded by ``<area>:read`` (``admin`` when no area)."""
    read = f"{area}:read" if area else "admin"
    router = APIRouter(tags=["audit"])

    @router.get("/v1/audit", responses=problems(pagination.InvalidCursor))
    async def read_audit(
        conn: Conn,
        actor: Text = None,
        target: Text = None,
        target_type: Text = None,
        action: Text = None,
        client_id: uuid.UUID | None = None,
        since: IsoDatetime | None = None,
        until: IsoDatetime | None = None,
        limit: pagination.Limit = pagination.DEFAULT_LIMIT,
        cursor: pagination.Cursor = None,
        who: Principal = require_scopes(read),
    ) -> AuditPage:
        """This service's audit trail (O3), newest first."""
        before = pagination.decode(cursor, pagination.int64)
        filters = repo.Filters(
            actor=actor,
            target=target,
            target_type=target_type,
            action=action,
            client_id=client_id,
            since=since,
            until=until,
        )
        entries = await repo.page(
            conn, filters, before_id=before[0] if before else None, limit=limit + 1
        )
        return AuditPage.of(entries, limit, key=lambda e: (e.id,), out=AuditEntryOut.of)

    return router
