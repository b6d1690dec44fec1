"""Route of the access log (V4)."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from fastapi import APIRouter
from prisme_chassis import pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from pydantic import BaseModel

from .. import repository as repo
from .common import status_problems

router = APIRouter(tags=["videos"], responses=status_problems(401, 403, 422))


class AccessOut(BaseModel):
    id: int
    at: datetime
    link_id: uuid.UUID | None
    video_id: uuid.UUID | None
    address: str
    user_agent: str
    event: str
    status: int
    range_start: int | None
    range_end: int | None
    bytes_served: int

    @classmethod
    def of(cls, row: asyncpg.Record) -> AccessOut:
        return cls(
            id=row["id"],
            at=row["at"],
            link_id=row["link_id"],
            video_id=row["video_id"],
            address=row["address"],
            user_agent=row["user_agent"],
            event=row["event"],
            status=row["status"],
            range_start=row["range_start"],
            range_end=row["range_end"],
            bytes_served=row["bytes_served"],
        )


@router.get("/v1/access-log", responses=problems(pagination.InvalidCursor))
async def access_log(
    conn: Tx,
    link_id: uuid.UUID | None = None,
    video_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("videos:read"),
) -> pagination.Page[AccessOut]:
    """V4: every page view, password attempt and stream, newest first, a page at a time."""
    before = pagination.decode(cursor, int)
    rows = await repo.list_access_log(
        conn,
        link_id=link_id,
        video_id=video_id,
        client_id=client_id,
        limit=limit + 1,
        before=before[0] if before else None,
    )
    return pagination.Page[AccessOut].of(rows, limit, key=lambda r: (r["id"],), out=AccessOut.of)
