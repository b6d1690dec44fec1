"""Route of an invoice's audit trail (O3)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from prisme_chassis import audit
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
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


@router.get("/v1/invoices/{invoice_id}/history")
async def invoice_history(
    invoice_id: uuid.UUID, conn: Tx, who: Principal = require_scopes("billing:read")
) -> list[AuditOut]:
    """O3: who recorded payments, requested and decided corrections on this invoice (the
    chassis' trail, oldest first; ``GET /v1/audit?target=`` gives the same with pages)."""
    entries = await audit.entries(conn, audit.Filters(target=str(invoice_id)), limit=1000)
    return [
        AuditOut(
            at=e.at,
            actor=e.actor,
            actor_name=e.actor_name,
            action=e.action,
            target_type=e.target_type,
            target_id=e.target_id,
            reason=e.reason,
            detail=dict(e.detail),
        )
        for e in reversed(entries)
    ]
