"""Route listing charges: activations and amendments, invoiced or waiting for a price (B1)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from fastapi import APIRouter, Query
from prisme_chassis import pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from pydantic import BaseModel

from .. import repository as repo
from .common import created_after, created_page

router = APIRouter(tags=["billing"])


class ChargeOut(BaseModel):
    id: uuid.UUID
    kind: str
    contract_id: uuid.UUID
    client_id: uuid.UUID
    offer: str
    postes_before: int
    postes: int
    effective_date: date
    status: str
    invoice_id: uuid.UUID | None


@router.get("/v1/charges", responses=problems(pagination.InvalidCursor))
async def list_charges(
    conn: Tx,
    status: Literal["awaiting_price", "invoiced", "nothing_due"] | None = Query(default=None),
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("billing:read"),
) -> pagination.Page[ChargeOut]:
    """Activations and amendments oldest first, e.g. ``?status=awaiting_price`` for offers
    without a price."""
    rows = await repo.oldest_first(conn, "charges", status, created_after(cursor), limit + 1)
    return created_page(
        rows, limit, lambda r: ChargeOut(**{k: r[k] for k in ChargeOut.model_fields})
    )
