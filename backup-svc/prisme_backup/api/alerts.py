"""Route of the alerts (K2): missed or failed copies, failed checks, repositories over quota."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from prisme_chassis import pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import repository
from ..schemas import (
    AlertOut,
)

router = APIRouter(tags=["backups"])


@router.get("/v1/alerts", responses=problems(pagination.InvalidCursor))
async def list_alerts(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    open_only: bool = False,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("backups:read"),
) -> pagination.Page[AlertOut]:
    """Missed or failed copies, failed checks, repositories over quota (K2), newest first."""
    before = pagination.decode(cursor, pagination.moment, uuid.UUID)
    rows = await repository.list_alerts(
        conn,
        client_id=client_id,
        plan_id=plan_id,
        open_only=open_only,
        limit=limit + 1,
        before=before,
    )
    return pagination.Page[AlertOut].of(
        rows,
        limit,
        key=lambda r: (r["raised_at"], r["id"]),
        out=AlertOut.of,
    )
