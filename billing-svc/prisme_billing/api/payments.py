"""Route recording a payment received by transfer or cheque."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter
from prisme_chassis import audit
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from prisme_chassis.wire import DecimalText, IsoDate
from pydantic import BaseModel, Field

from .. import errors, payments, queries
from .documents import InvoiceOut, _invoice

router = APIRouter(tags=["billing"])


PositiveMoney = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("1000000"), decimal_places=2),
    DecimalText(maximum=1_000_000, positive=True),
]


class ManualPayment(BaseModel):
    method: Literal["bank_transfer", "cheque"]
    amount: PositiveMoney
    paid_on: IsoDate
    reference: str | None = Field(default=None, max_length=200)


@router.post(
    "/v1/invoices/{invoice_id}/payments",
    status_code=201,
    responses=problems(
        errors.PaymentMethodRefused,
        errors.InvalidAmount,
        errors.InvoiceNotFound,
        errors.InvoiceAlreadyPaid,
        errors.AmountExceedsOutstanding,
        errors.DocumentNotFound,
    ),
)
async def record_payment(
    invoice_id: uuid.UUID,
    body: ManualPayment,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("billing:write"),
) -> InvoiceOut:
    """Record a bank transfer or a cheque received for an invoice."""
    await payments.record_manual_payment(
        conn,
        invoice_id,
        method=body.method,
        amount=body.amount,
        paid_on=body.paid_on,
        reference=body.reference,
        actor=actor,
    )
    return _invoice(*await queries.get_document_with_emails(conn, "invoice", invoice_id))
