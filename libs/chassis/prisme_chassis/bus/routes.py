"""Operational routes of the bus: ``GET /v1/outbox``, the rows the relay could not publish."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from ..auth import Principal, require_scopes
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


class OutboxPage(BaseModel):
    items: list[OutboxRowOut]
    cursor: str | None  # give it back as ``cursor`` for the next page; null on the last


def outbox_router() -> APIRouter:
    router = APIRouter(tags=["outbox"])

    @router.get("/v1/outbox")
    async def list_outbox(
        request: Request,
        state: Literal["failing", "unsent"] = "failing",
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        # the seq of the last row of the previous page (a bigint): its pattern is in the schema
        cursor: Annotated[str | None, Query(pattern="^[0-9]{1,18}$")] = None,
        who: Principal = require_scopes("admin"),
    ) -> OutboxPage:
        """Unsent outbox rows: ``failing`` (publish failed, retried with back-off) or all."""
        after = int(cursor) if cursor else 0
        pool: asyncpg.Pool = request.app.state.runtime.pool
        rows = await list_unsent(
            pool, failing_only=state == "failing", limit=limit + 1, after=after
        )
        page = rows[:limit]
        return OutboxPage(
            items=[OutboxRowOut.of(r) for r in page],
            cursor=str(page[-1].seq) if len(rows) > limit else None,
        )

    return router
