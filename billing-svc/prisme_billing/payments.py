"""Payment use cases (B5, B8): manual payments, Stripe invoice state, refunds.

Every function is idempotent and order-independent: it compares the state it is given (for
Stripe, a freshly fetched object) with ours and applies only the difference.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import asyncpg
from prisme_chassis import audit
from prisme_chassis.audit import Actor
from prisme_chassis.bus import enqueue, next_version
from prisme_chassis.calendar import business_today
from prisme_chassis.money import from_cents, money_str, round_half_up
from prisme_events import InvoicePaid, InvoicePaymentFailed, PaymentRefunded

from . import errors, stripe_jobs
from . import repository as repo
from .errors import (
    AmountExceedsOutstanding,
    InvalidAmount,
    InvoiceAlreadyPaid,
    InvoiceNotFound,
    PaymentMethodRefused,
)

MANUAL_METHODS = ("bank_transfer", "cheque")


async def record_manual_payment(
    conn: asyncpg.Connection,
    invoice_id: uuid.UUID,
    *,
    method: str,
    amount: Decimal,
    paid_on: date,
    reference: str | None,
    actor: Actor,
) -> asyncpg.Record:
    """B8: the accountant records a bank transfer or cheque, partial or full (audited); the
    invoice is paid once what is owed (less its credit notes) is covered."""
    if method not in MANUAL_METHODS:
        raise PaymentMethodRefused("method must be bank_transfer or cheque", method=method)
    if amount != round_half_up(amount) or amount <= 0:
        raise InvalidAmount("amount must be positive with at most two decimals")
    invoice = await repo.document(conn, invoice_id, lock=True)
    if invoice is None or invoice["kind"] != "invoice" or invoice["status"] == "draft":
        raise InvoiceNotFound("no such invoice", invoice_id=invoice_id)
    outstanding = await amount_due(conn, invoice)
    if invoice["status"] in ("paid", "credited") or outstanding <= 0:
        raise InvoiceAlreadyPaid("invoice is already paid", number=invoice["number"])
    if amount > outstanding:
        raise AmountExceedsOutstanding(
            "amount exceeds what is owed", outstanding=money_str(outstanding), currency="EUR"
        )
    await repo.insert_payment(
        conn,
        id=uuid.uuid4(),
        invoice_id=invoice_id,
        method=method,
        amount=amount,
        paid_on=paid_on,
        reference=reference,
        recorded_by=actor.sub,
    )
    await repo.add_paid(conn, invoice_id, amount)
    await audit.record(
        conn,
        actor,
        "payment.recorded",
        target_type="invoice",
        target_id=invoice_id,
        detail={
            "number": invoice["number"],
            "method": method,
            "amount": money_str(amount),
            "paid_on": paid_on.isoformat(),
            "reference": reference,
        },
    )
    if outstanding - amount <= 0:
        await _mark_paid(conn, invoice, method)
        # The client must not be asked to pay again on Stripe's hosted page.
        await stripe_jobs.close_paid_out_of_band(conn, invoice_id)
    updated = await repo.document(conn, invoice_id)
    assert updated is not None
    return updated


async def _mark_paid(conn: asyncpg.Connection, invoice: asyncpg.Record, method: str) -> None:
    await repo.set_status(conn, invoice["id"], "paid")
    await enqueue(
        conn,
        InvoicePaid(
            client_id=invoice["client_id"],
            contract_id=invoice["contract_id"],
            invoice_id=invoice["id"],
            version=await next_version(conn, "invoice", invoice["id"]),
            number=invoice["number"],
            amount=money_str(invoice["total_ttc"]),
            method=method,
        ),
    )


async def stripe_invoice_paid(
    conn: asyncpg.Connection,
    invoice: asyncpg.Record,
    stripe_invoice_id: str,
    amount_cents: int,
    method: str,
) -> bool:
    """B8: Stripe says the invoice is paid. One payment row per Stripe invoice (unique
    ``external_id``), so duplicates and reconciliation replays have no second effect."""
    amount = from_cents(amount_cents)
    if amount <= 0 or invoice["status"] == "paid":
        # Already paid (by hand, then closed out of band on Stripe): no second payment.
        return False
    inserted = await repo.insert_payment(
        conn,
        id=uuid.uuid4(),
        invoice_id=invoice["id"],
        method=method if method in ("card", "sepa_debit") else "stripe",
        amount=amount,
        paid_on=business_today(),
        reference=stripe_invoice_id,
        external_id=stripe_invoice_id,
        recorded_by="stripe",
    )
    if not inserted:
        return False
    await repo.add_paid(conn, invoice["id"], amount)
    if invoice["status"] != "paid":
        await _mark_paid(conn, invoice, method)
    await refund_if_credited(conn, invoice["id"])
    return True


async def stripe_payment_failed(
    conn: asyncpg.Connection, invoice: asyncpg.Record, stripe_event_id: str, reason: str
) -> bool:
    """B8: a failed attempt, once per Stripe event; ignored when the invoice is paid already
    (a failure delivered after the success of a later attempt)."""
    if invoice["status"] == "paid":
        return False
    if not await repo.insert_payment_failure(conn, stripe_event_id, invoice["id"], reason):
        return False
    await repo.set_status(conn, invoice["id"], "payment_failed")
    await enqueue(
        conn,
        InvoicePaymentFailed(
            client_id=invoice["client_id"],
            contract_id=invoice["contract_id"],
            invoice_id=invoice["id"],
            version=await next_version(conn, "invoice", invoice["id"]),
            number=invoice["number"],
            reason=reason,
        ),
    )
    return True


STRIPE_METHODS = ("card", "sepa_debit", "stripe")


async def amount_due(conn: asyncpg.Connection, invoice: asyncpg.Record) -> Decimal:
    """What the practice still owes: the total, less what credit notes took, less what was paid
    and kept (paid − refunded)."""
    credited, _per_line = await repo.credited(conn, invoice["id"])
    kept: Decimal = invoice["amount_paid"] - await _refunds_total(conn, invoice["id"])
    total: Decimal = invoice["total_ttc"]
    return total - credited - kept


async def _refunds_total(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> Decimal:
    return sum(
        (r["amount"] for r in await repo.refunds_of(conn, invoice_id) if r["status"] != "failed"),
        Decimal("0.00"),
    )


async def refund_if_credited(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> None:
    """B5/B6: give back what was paid beyond what is still owed once credit notes are taken
    off, one refund per credit note, in number order: through Stripe when the invoice was paid
    there (a durable job keyed by the credit note), otherwise a manual refund the accountant
    sends and records. Called when a credit note is issued and when a payment arrives (a
    payment after the credit note is refunded too). Idempotent."""
    invoice = await repo.document(conn, invoice_id, lock=True)
    if invoice is None:
        return
    for note in await repo.credit_notes_of(conn, invoice_id):
        if await repo.refund_for(conn, note["id"]) is not None:
            continue
        overpaid = -await amount_due(conn, invoice)
        refundable = min(note["total_ttc"], overpaid)
        if refundable <= 0:
            continue
        via_stripe = any(
            p["method"] in STRIPE_METHODS for p in await repo.payments_of(conn, invoice_id)
        )
        if via_stripe and invoice["stripe_invoice_id"] is not None:
            if await repo.insert_refund(conn, note["id"], invoice_id, refundable):
                await stripe_jobs.refund(conn, note["id"])
        else:
            await repo.insert_manual_refund(conn, note["id"], invoice_id, refundable)


async def record_manual_refund(
    conn: asyncpg.Connection,
    refund_id: uuid.UUID,
    *,
    paid_by: str,
    paid_on: date,
    reference: str | None,
    actor: Actor,
) -> asyncpg.Record:
    """B6: the accountant records that a manual refund (transfer, cheque) was sent; published
    once as ``payment.refunded`` and audited."""
    refund = await repo.refund_by_id(conn, refund_id)
    if refund is None:
        raise errors.RefundNotFound("no such refund", refund_id=refund_id)
    if refund["method"] != "manual":
        raise errors.RefundThroughStripe(
            "this refund goes through Stripe; it is not recorded by hand"
        )
    if refund["status"] == "succeeded":
        raise errors.RefundAlreadyRecorded(
            "this refund was already recorded", paid_on=refund["paid_on"]
        )
    await repo.record_manual_refund(
        conn,
        refund_id,
        paid_by=paid_by,
        paid_on=paid_on,
        reference=reference,
        recorded_by=actor.sub,
    )
    await repo.add_refunded(conn, refund["invoice_id"], refund["amount"])
    invoice = await repo.document(conn, refund["invoice_id"])
    assert invoice is not None
    await audit.record(
        conn,
        actor,
        "refund.recorded",
        target_type="refund",
        target_id=refund_id,
        detail={
            "invoice": invoice["number"],
            "amount": money_str(refund["amount"]),
            "paid_by": paid_by,
            "paid_on": paid_on.isoformat(),
            "reference": reference,
        },
    )
    await enqueue(
        conn,
        PaymentRefunded(
            client_id=invoice["client_id"],
            contract_id=invoice["contract_id"],
            refund_id=refund_id,
            version=await next_version(conn, "refund", refund_id),
            invoice_id=invoice["id"],
            amount=money_str(refund["amount"]),
        ),
    )
    updated = await repo.refund_by_id(conn, refund_id)
    assert updated is not None
    return updated


async def refund_settled(
    conn: asyncpg.Connection,
    refund: asyncpg.Record,
    stripe_refund_id: str,
    stripe_status: str,
    by: Actor,
) -> str | None:
    """Apply a Stripe refund's status; ``payment.refunded`` is published once, on success.
    O3: a change is audited as ``refund.<status>`` by ``by``. The status written
    (``succeeded``, ``failed``, ``pending``), None when nothing changed."""
    status = await _settle_refund(conn, refund, stripe_refund_id, stripe_status)
    if status is not None:
        await audit.record(
            conn,
            by,
            f"refund.{status}",
            target_type="refund",
            target_id=refund["id"],
            detail={
                "invoice_id": refund["invoice_id"],
                "amount": money_str(refund["amount"]),
                "stripe_refund": stripe_refund_id,
            },
        )
    return status


async def _settle_refund(
    conn: asyncpg.Connection, refund: asyncpg.Record, stripe_refund_id: str, stripe_status: str
) -> str | None:
    if refund["status"] == "succeeded":
        return None
    if stripe_status == "succeeded":
        await repo.update_refund(conn, refund["id"], "succeeded", stripe_refund_id)
        await repo.add_refunded(conn, refund["invoice_id"], refund["amount"])
        invoice = await repo.document(conn, refund["invoice_id"])
        assert invoice is not None
        await enqueue(
            conn,
            PaymentRefunded(
                client_id=invoice["client_id"],
                contract_id=invoice["contract_id"],
                refund_id=refund["id"],
                version=await next_version(conn, "refund", refund["id"]),
                invoice_id=invoice["id"],
                amount=money_str(refund["amount"]),
            ),
        )
        return "succeeded"
    status = "failed" if stripe_status in ("failed", "canceled") else "pending"
    if refund["status"] == status and refund["stripe_refund_id"] == stripe_refund_id:
        return None
    await repo.update_refund(conn, refund["id"], status, stripe_refund_id)
    return status
