"""Payment use cases (B5, B8): manual payments, Stripe invoice state, refunds.

Every function is idempotent and order-independent: it compares the state it is given (for
Stripe, a freshly fetched object) with ours and applies only the difference.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import asyncpg
from prisme_chassis.bus import enqueue, next_version
from prisme_chassis.calendar import business_today
from prisme_chassis.errors import Conflict, NotFound, Unprocessable
from prisme_chassis.money import from_cents, money_str, round_half_up
from prisme_events import InvoicePaid, InvoicePaymentFailed, PaymentRefunded

from . import repository as repo
from . import stripe_jobs

MANUAL_METHODS = ("bank_transfer", "cheque")


async def record_manual_payment(
    conn: asyncpg.Connection,
    invoice_id: uuid.UUID,
    *,
    method: str,
    amount: Decimal,
    paid_on: date,
    reference: str | None,
    actor: str,
) -> asyncpg.Record:
    """Record a bank transfer or cheque; the invoice is paid once the total is covered."""
    if method not in MANUAL_METHODS:
        raise Unprocessable("method must be bank_transfer or cheque", method=method)
    if amount != round_half_up(amount) or amount <= 0:
        raise Unprocessable("amount must be positive with at most two decimals")
    invoice = await repo.document(conn, invoice_id, lock=True)
    if invoice is None or invoice["kind"] != "invoice" or invoice["status"] == "draft":
        raise NotFound("no such invoice", invoice_id=invoice_id)
    outstanding = invoice["total_ttc"] - invoice["amount_paid"]
    if invoice["status"] == "paid" or outstanding <= 0:
        raise Conflict("invoice is already paid", number=invoice["number"])
    if amount > outstanding:
        raise Unprocessable(
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
        recorded_by=actor,
    )
    paid = await repo.add_paid(conn, invoice_id, amount)
    if paid >= invoice["total_ttc"]:
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


async def refund_if_credited(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> None:
    """B5: a payment that arrives after the cessation credit note is refunded too."""
    note = await repo.credit_note_of(conn, invoice_id)
    invoice = await repo.document(conn, invoice_id)
    if note is None or invoice is None:
        return
    refundable = min(note["total_ttc"], invoice["amount_paid"] - invoice["amount_refunded"])
    if refundable > 0 and await repo.insert_refund(conn, note["id"], invoice_id, refundable):
        await stripe_jobs.refund(conn, note["id"])


async def refund_settled(
    conn: asyncpg.Connection, refund: asyncpg.Record, stripe_refund_id: str, stripe_status: str
) -> None:
    """Apply a Stripe refund's status; ``payment.refunded`` is published once, on success."""
    if refund["status"] == "succeeded":
        return
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
    elif stripe_status in ("failed", "canceled"):
        await repo.update_refund(conn, refund["id"], "failed", stripe_refund_id)
    else:
        await repo.update_refund(conn, refund["id"], "pending", stripe_refund_id)
