"""HTTP routes of the price book's items for one-off work (B9)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter
from prisme_chassis import audit
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.calendar import now
from prisme_chassis.errors import problems
from prisme_chassis.money import money_str
from prisme_chassis.wire import DecimalText
from pydantic import BaseModel, Field

from .. import domain, errors, price_changes
from .. import repository as repo
from .approvals import ApprovalOut, approval_out

router = APIRouter(tags=["price book"])


_UNITS = {"forfait": domain.UNIT_ONE, "heure": domain.UNIT_HOUR}


class PriceItem(BaseModel):
    """One priced item: travel to a zone (``forfait``), an hourly rate (``heure``) or a fixed
    price for out-of-contract work. ``code`` is what interventions name (``deplacement_sud``)."""

    code: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1, max_length=200)
    unit: Literal["forfait", "heure"]
    unit_ttc: Annotated[
        Decimal,
        Field(ge=0, le=Decimal("100000"), decimal_places=2),
        DecimalText(maximum=100_000),
    ]


class PriceItemOut(BaseModel):
    code: str
    label: str
    unit: Literal["forfait", "heure"]
    unit_ttc: str
    currency: str = "EUR"


class PriceItemsIn(BaseModel):
    items: list[PriceItem] = Field(max_length=500)
    reason: str = Field(min_length=3, max_length=500)


async def _items(conn: Tx) -> list[PriceItemOut]:
    return [
        PriceItemOut(
            code=r["code"],
            label=r["label"],
            unit="heure" if r["unit_code"] == domain.UNIT_HOUR else "forfait",
            unit_ttc=money_str(r["unit_ttc"]),
        )
        for r in await repo.price_items(conn)
    ]


@router.get("/v1/price-book/items")
async def get_items(
    conn: Tx, who: Principal = require_scopes("billing:read")
) -> list[PriceItemOut]:
    return await _items(conn)


@router.put("/v1/price-book/items", status_code=202, responses=problems(errors.DuplicatePriceItem))
async def put_items(
    body: PriceItemsIn,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("billing:write"),
) -> ApprovalOut:
    """B9/O2: ask to replace the items (travel per zone, hourly rate, fixed prices); they are
    in force once another operator approves (``/v1/approvals``). The month's one-off invoice
    prices its work with the items in force when it is issued."""
    row = await price_changes.request_items(
        conn,
        [(i.code, i.label, _UNITS[i.unit], i.unit_ttc) for i in body.items],
        reason=body.reason,
        actor=actor,
        now=now(),
    )
    return approval_out(row)
