"""Route of the licence alerts: accounts whose Graph work failed or waits for a free seat."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from prisme_chassis import pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import service
from ..schemas import (
    AlertOut,
)

router = APIRouter(tags=["licences"])


@router.get("/v1/alerts", responses=problems(pagination.InvalidCursor))
async def list_alerts(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("licences:read"),
) -> pagination.Page[AlertOut]:
    """Accounts with an alert, oldest change first, a page at a time."""
    rows = await service.list_alerts(conn, limit=limit + 1, cursor=cursor, client_id=client_id)
    return pagination.Page[AlertOut].of(
        rows,
        limit,
        key=lambda r: (r["updated_at"], r["id"]),
        out=lambda r: AlertOut(
            account_id=r["id"],
            client_id=r["client_id"],
            user_id=r["user_id"],
            upn=r["upn"],
            status=r["status"],
            alert=r["alert"],
        ),
    )
