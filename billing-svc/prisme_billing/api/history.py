"""Route of an invoice's audit trail (O3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from prisme_chassis import audit, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from pydantic import BaseModel

router = APIRouter(tags=["corrections"])


class AuditOut(BaseModel):
    at: datetime
    actor: str
    actor_name: str | None
    action: str
    target_type: str | None
    target_id: str | None
    reason: str | None
    detail: dict[str, Any]


def _entry(e: audit.AuditEntry) -> AuditOut:
    return AuditOut(
        at=e.at,
        actor=e.actor,
        actor_name=e.actor_name,
        action=e.action,
        target_type=e.target_type,
        target_id=e.target_id,
        reason=e.reason,
        detail=dict(e.detail),
    )


@router.get("/v1/invoices/{invoice_id}/history", responses=problems(pagination.InvalidCursor))
async def invoice_history(
    invoice_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("billing:read"),
) -> pagination.Page[AuditOut]:
    """O3: who recorded payments, requested and decided corrections on this invoice, oldest
    first, a page at a time (the chassis' trail; ``GET /v1/audit?target=`` reads it newest
    first)."""
    after = pagination.decode(cursor, pagination.int64)
    entries = await audit.entries(
        conn,
        audit.Filters(target=str(invoice_id)),
        limit=limit + 1,
        after_id=after[0] if after else None,
        oldest_first=True,
    )
    return pagination.Page[AuditOut].of(entries, limit, key=lambda e: (e.id,), out=_entry)
