"""Routes of four eyes (O2): asking for a correcting credit note (B6) or a new price book (B1),
listing the requests, approving or rejecting one."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Query
from prisme_chassis import audit, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.calendar import now
from prisme_chassis.errors import problems
from prisme_chassis.money import money_str
from prisme_chassis.wire import BodyInt, DecimalText
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .. import corrections, errors, four_eyes, price_changes
from .. import repository as repo
from .common import created_after, created_page
from .price_book import PriceBookIn

router = APIRouter(tags=["corrections"])


Amount = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("1000000"), decimal_places=2),
    DecimalText(maximum=1_000_000, positive=True),
]


Text = Annotated[str, Field(min_length=3, max_length=500)]


#: O2: deciding is for an approver (``billing:approve``: the accountant and admin roles);
#: maker ≠ checker always holds, by the token's ``sub``.
APPROVE = "billing:approve"


class CreditLineIn(BaseModel):
    line: BodyInt = Field(ge=1, le=1000, description="Position of the invoice line (1-based)")
    amount_ttc: Amount


class CorrectionIn(BaseModel):
    """A correcting credit note: ``amount_ttc`` of the invoice, or ``lines``, or neither (the
    whole amount the invoice has left), always with a reason."""

    reason: Text
    amount_ttc: Amount | None = None
    lines: list[CreditLineIn] | None = Field(default=None, max_length=100)

    # the schema says it too (R2): a body holding both keys is refused, whatever their values
    model_config = ConfigDict(json_schema_extra={"not": {"required": ["amount_ttc", "lines"]}})

    @model_validator(mode="after")
    def _one_way(self) -> CorrectionIn:
        if {"amount_ttc", "lines"} <= self.model_fields_set:
            raise ValueError("give amount_ttc or lines, not both")
        return self

    def payload(self, invoice_id: uuid.UUID) -> dict[str, Any]:
        return {
            "invoice_id": str(invoice_id),
            "reason": self.reason,
            "amount_ttc": None if self.amount_ttc is None else money_str(self.amount_ttc),
            "lines": [
                {"line": ln.line, "amount_ttc": money_str(ln.amount_ttc)} for ln in self.lines
            ]
            if self.lines
            else None,
        }


class ApprovalOut(BaseModel):
    id: uuid.UUID
    kind: Literal["correction", "price_book", "price_items"]
    target_id: uuid.UUID | None = Field(description="The invoice a correction is against")
    payload: dict[str, Any]
    payload_hash: str
    reason: str
    maker: str
    maker_name: str | None
    status: Literal["pending", "approved", "rejected", "expired"]
    created_at: datetime
    expires_at: datetime
    checker: str | None
    checker_name: str | None
    decided_at: datetime | None
    note: str | None
    result_id: uuid.UUID | None = Field(description="The credit note issued on approval")
    result_version: int | None = Field(
        default=None, description="The price-book version written on approval"
    )


def approval_out(row: asyncpg.Record) -> ApprovalOut:
    data = {k: row[k] for k in ApprovalOut.model_fields}
    if data["status"] == "pending" and row["expires_at"] <= now():
        data["status"] = "expired"
    return ApprovalOut(**data)


class DecisionIn(BaseModel):
    note: Text


@router.post(
    "/v1/invoices/{invoice_id}/credit-notes",
    status_code=202,
    responses=problems(
        errors.FinalisedInvoiceNotFound, errors.InvalidCorrection, corrections.CreditExceedsInvoice
    ),
)
async def request_correction(
    invoice_id: uuid.UUID,
    body: CorrectionIn,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("billing:write"),
) -> ApprovalOut:
    """B6/O2: ask for a correcting credit note; issued when another operator approves."""
    row = await corrections.request(
        conn,
        invoice_id,
        body.payload(invoice_id),
        maker=actor,
        now=now(),
    )
    return approval_out(row)


@router.get("/v1/approvals", responses=problems(pagination.InvalidCursor))
async def list_approvals(
    conn: Tx,
    status: Literal["pending", "approved", "rejected"] | None = Query(default=None),
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("billing:read"),
) -> pagination.Page[ApprovalOut]:
    """Four-eyes requests oldest first (O2); a pending one past its expiry shows ``expired``."""
    rows = await repo.oldest_first(conn, "approvals", status, created_after(cursor), limit + 1)
    return created_page(rows, limit, approval_out)


@router.put(
    "/v1/price-book",
    status_code=202,
    responses=problems(errors.DuplicateOffer),
)
async def request_price_book(
    body: PriceBookIn,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("billing:write"),
) -> ApprovalOut:
    """B1/O2: ask for a new price book (every (offer, level) price); it is written, and the
    charges waiting for those prices invoiced, when another operator approves."""
    row = await price_changes.request(
        conn, body.to_domain(), reason=body.reason, actor=actor, now=now()
    )
    return approval_out(row)


#: O2: every kind of four-eyes request, decided by the same two routes
KINDS: dict[str, four_eyes.Kind] = {
    k.name: k for k in (corrections.CORRECTION, price_changes.PRICE_BOOK, price_changes.PRICE_ITEMS)
}


@router.post(
    "/v1/approvals/{approval_id}/approve",
    responses=problems(
        errors.ApprovalNotFound,
        errors.ApprovalTampered,
        four_eyes.ApprovalClosed,
        four_eyes.SelfApproval,
        corrections.CreditExceedsInvoice,
        errors.DuplicateOffer,
        errors.ClientUnknown,
    ),
)
async def approve(
    approval_id: uuid.UUID,
    body: DecisionIn,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes(APPROVE),
) -> ApprovalOut:
    """O2: a different operator approves: a correction's credit note is numbered and issued,
    a price-book change is written, at once."""
    row = await four_eyes.decide(
        conn, KINDS, approval_id, approve=True, checker=actor, note=body.note, now=now()
    )
    return approval_out(row)


@router.post(
    "/v1/approvals/{approval_id}/reject",
    responses=problems(errors.ApprovalNotFound, four_eyes.ApprovalClosed, four_eyes.SelfApproval),
)
async def reject(
    approval_id: uuid.UUID,
    body: DecisionIn,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes(APPROVE),
) -> ApprovalOut:
    """O2: a different operator refuses: nothing is applied."""
    row = await four_eyes.decide(
        conn, KINDS, approval_id, approve=False, checker=actor, note=body.note, now=now()
    )
    return approval_out(row)
