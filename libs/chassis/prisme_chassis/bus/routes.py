"""Operational routes of the bus: ``GET /v1/outbox``, the rows the relay could not publish."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

import asyncpg
from fastapi import APIRouter, Request
from pydantic import BaseModel

from .. import pagination
from ..auth import Principal, require_scopes
from ..errors import problems
from .outbox import OutboxRow, list_unsent


class OutboxRowOut(BaseModel):
    seq: int
    event_id: uuid.UUID
    subject: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: OutboxRow) -> OutboxRowOut:
        return cls(
            seq=row.seq,
            event_id=row.event_id,
            subject=row.subject,
            attempts=row.attempts,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
        )


def outbox_router() -> APIRouter:
    router = APIRouter(tags=["outbox"])

    @router.get("/v1/outbox", responses=problems(pagination.InvalidCursor))
    async def list_outbox(
        request: Request,
        state: Literal["failing", "unsent"] = "failing",
        limit: pagination.Limit = pagination.DEFAULT_LIMIT,
        cursor: pagination.Cursor = None,
        who: Principal = require_scopes("admin"),
    ) -> pagination.Page[OutboxRowOut]:
        """Unsent outbox rows in publishing order, a page at a time: ``failing`` (publish
        failed, retried with back-off) or all."""
        after = pagination.decode(cursor, pagination.int64)
        pool: asyncpg.Pool = request.app.state.runtime.pool
        rows = await list_unsent(
            pool, failing_only=state == "failing", limit=limit + 1, after=after[0] if after else 0
        )
        return pagination.Page[OutboxRowOut].of(
            rows, limit, key=lambda r: (r.seq,), out=OutboxRowOut.of
        )

    return router
