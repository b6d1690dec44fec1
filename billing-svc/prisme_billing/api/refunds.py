"""Routes of an invoice's refunds and of recording a manual one (B6)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

import asyncpg
from fastapi import APIRouter
from prisme_chassis import audit, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from prisme_chassis.money import money_str
from prisme_chassis.wire import IsoDate
from pydantic import BaseModel, Field

from .. import errors, payments
from .. import repository as repo

router = APIRouter(tags=["corrections"])


class RefundOut(BaseModel):
    id: uuid.UUID
    invoice_id: uuid.UUID
    credit_note_id: uuid.UUID
    amount: str
    currency: str = "EUR"
    method: Literal["stripe", "manual"]
    status: Literal["pending", "succeeded", "failed"]
    paid_by: str | None
    paid_on: date | None
    reference: str | None


def _refund(r: asyncpg.Record) -> RefundOut:
    return RefundOut(
        id=r["id"],
        invoice_id=r["invoice_id"],
        credit_note_id=r["credit_note_id"],
        amount=money_str(r["amount"]),
        method=r["method"],
        status=r["status"],
        paid_by=r["paid_by"],
        paid_on=r["paid_on"],
        reference=r["reference"],
    )


@router.get("/v1/invoices/{invoice_id}/refunds", responses=problems(pagination.InvalidCursor))
async def list_refunds(
    invoice_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("billing:read"),
) -> pagination.Page[RefundOut]:
    """Refunds of an invoice, oldest first: through Stripe, or manual ones the accountant
    sends."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    rows = await repo.refunds_of(conn, invoice_id, after=after, limit=limit + 1)
    return pagination.Page[RefundOut].of(
        rows, limit, key=lambda r: (r["created_at"], r["id"]), out=_refund
    )


class ManualRefundIn(BaseModel):
    paid_by: Literal["bank_transfer", "cheque"]
    paid_on: IsoDate
    reference: str | None = Field(default=None, max_length=200)


@router.post(
    "/v1/refunds/{refund_id}/record",
    responses=problems(
        errors.RefundNotFound, errors.RefundThroughStripe, errors.RefundAlreadyRecorded
    ),
)
async def record_refund(
    refund_id: uuid.UUID,
    body: ManualRefundIn,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("billing:write"),
) -> RefundOut:
    """B6: the accountant records that a manual refund was sent (transfer or cheque)."""
    row = await payments.record_manual_refund(
        conn,
        refund_id,
        paid_by=body.paid_by,
        paid_on=body.paid_on,
        reference=body.reference,
        actor=actor,
    )
    return _refund(row)
