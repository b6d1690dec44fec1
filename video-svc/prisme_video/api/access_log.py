"""Route of the access log (V4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
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


@router.get("/v1/access-log")
async def access_log(
    conn: Tx,
    link_id: uuid.UUID | None = None,
    video_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    who: Principal = require_scopes("videos:read"),
) -> list[AccessOut]:
    """V4: every page view, password attempt and stream, newest first."""
    rows = await repo.list_access_log(
        conn, link_id=link_id, video_id=video_id, client_id=client_id, limit=limit
    )
    return [AccessOut(**dict(r)) for r in rows]
