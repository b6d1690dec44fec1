"""Events published by billing-svc (stream BILLING). Fields grow with issue 4."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from .base import Event


class BillingEvent(Event):
    source: ClassVar[str] = "billing-svc"
    # v2: ``version``, the aggregate's version, on every event (DESIGN §3)
    schema_version: ClassVar[int] = 2

    client_id: uuid.UUID
    contract_id: uuid.UUID | None = None


class InvoiceIssued(BillingEvent):
    """An invoice was finalised and numbered (B2, B4, B6)."""

    subject: ClassVar[str] = "invoice.issued"
    invoice_id: uuid.UUID
    number: str
    total_ttc: str
    currency: str = "EUR"
    kind: Literal["activation", "amendment", "one_off"] | None = Field(
        default=None,
        description="The year's invoice (B2), an additional one for added postes (B4), or the month's one-off work (B9)",
    )
    year: int | None = Field(default=None, description="The contract year invoiced")
    issue_date: date | None = None
    due_date: date | None = None

    def aggregate_id(self) -> str:
        return str(self.invoice_id)


class InvoicePaid(BillingEvent):
    """An invoice was paid in full (B8)."""

    subject: ClassVar[str] = "invoice.paid"
    invoice_id: uuid.UUID
    number: str
    amount: str
    currency: str = "EUR"
    method: str

    def aggregate_id(self) -> str:
        return str(self.invoice_id)


class InvoicePaymentFailed(BillingEvent):
    """A payment attempt on an invoice failed (B8)."""

    subject: ClassVar[str] = "invoice.payment_failed"
    invoice_id: uuid.UUID
    number: str
    reason: str

    def aggregate_id(self) -> str:
        return str(self.invoice_id)


class CreditNoteIssued(BillingEvent):
    """A credit note was finalised against an invoice (B5)."""

    subject: ClassVar[str] = "credit_note.issued"
    credit_note_id: uuid.UUID
    invoice_id: uuid.UUID
    number: str
    total_ttc: str
    currency: str = "EUR"
    invoice_number: str | None = Field(default=None, description="The credited invoice's number")

    def aggregate_id(self) -> str:
        return str(self.credit_note_id)


class PaymentRefunded(BillingEvent):
    """A paid amount was refunded through its original payment method (B5)."""

    subject: ClassVar[str] = "payment.refunded"
    refund_id: uuid.UUID
    invoice_id: uuid.UUID
    amount: str
    currency: str = "EUR"

    def aggregate_id(self) -> str:
        return str(self.refund_id)


class InvoiceOverdue(BillingEvent):
    """An invoice is still unpaid the day after its due date (B10). Penalties and the 40 EUR
    recovery indemnity are computed and shown by billing, never added to the invoice."""

    subject: ClassVar[str] = "invoice.overdue"
    invoice_id: uuid.UUID
    number: str
    due_date: date
    outstanding: str = Field(description="What is still owed (credit notes and payments taken off)")
    currency: str = "EUR"

    def aggregate_id(self) -> str:
        return str(self.invoice_id)
