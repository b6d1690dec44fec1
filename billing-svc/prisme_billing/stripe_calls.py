"""Job handlers that call Stripe for our documents (B5, B8): read → call → record.

Each handler reads what it needs in a short transaction, calls Stripe with no transaction
open, and returns what to write as the outcome's ``apply``, which the chassis runs in the
transaction that records the job (lease-guarded). Every mutating call carries an idempotency
key built from our ids, so a run repeated after a crash replays instead of re-creating.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import stripe
from prisme_chassis import audit, jobs
from prisme_chassis.db import transaction
from prisme_chassis.money import to_cents

from . import domain, payments, stripe_jobs
from . import repository as repo
from .stripe_client import idempotent


async def push_invoice(
    pool: asyncpg.Pool, client: stripe.StripeClient, job: jobs.Job
) -> jobs.Outcome:
    """Create, finalise and send the Stripe invoice of one of our finalised invoices."""
    doc_id = uuid.UUID(job.payload["document_id"])
    async with transaction(pool) as conn:
        doc = await repo.document(conn, doc_id)
        if doc is None:
            return jobs.Fail(f"no document {doc_id}")
        if doc["stripe_invoice_id"] is not None:
            return jobs.Done()
        buyer = await repo.client(conn, doc["client_id"])
        if buyer is None:
            return jobs.Fail(f"no client {doc['client_id']}")
        lines = (await repo.lines(conn, [doc_id]))[doc_id]
    customer_id = buyer["stripe_customer_id"]
    new_customer = customer_id is None
    if customer_id is None:
        # One Stripe customer per client: keyed by the client id, a retry returns the same one.
        customer = await client.v1.customers.create_async(
            {
                "name": buyer["name"],
                "email": buyer["email"],
                "preferred_locales": ["fr"],
                "metadata": {"prisme_client_id": str(buyer["client_id"]), "siren": buyer["siren"]},
            },
            idempotent(f"client:{buyer['client_id']}:customer"),
        )
        customer_id = customer.id
    # One Stripe invoice per document, keyed by the document id: a crash after this call and
    # before our record replays the same invoice instead of billing the client twice.
    invoice = await client.v1.invoices.create_async(
        {
            "customer": customer_id,
            "collection_method": "send_invoice",
            "days_until_due": domain.PAYMENT_TERM_DAYS,
            "currency": "eur",
            "description": f"Facture {doc['number']}",
            "pending_invoice_items_behavior": "exclude",
            "payment_settings": {"payment_method_types": ["card", "sepa_debit"]},
            "metadata": {"prisme_document_id": str(doc_id), "prisme_number": doc["number"]},
        },
        idempotent(f"invoice:{doc_id}:create"),
    )
    invoice_id = invoice.id
    if invoice_id is None:
        raise jobs.RetryLater("Stripe returned an invoice without an id")
    for ln in lines:
        await client.v1.invoice_items.create_async(
            {
                "customer": customer_id,
                "invoice": invoice_id,
                "amount": to_cents(ln["total_ttc"]),
                "currency": "eur",
                "description": ln["description"],
            },
            idempotent(f"invoice:{doc_id}:line:{ln['position']}"),
        )
    await client.v1.invoices.finalize_invoice_async(
        invoice_id, {}, idempotent(f"invoice:{doc_id}:finalize")
    )
    await client.v1.invoices.send_invoice_async(
        invoice_id, {}, idempotent(f"invoice:{doc_id}:send")
    )

    async def record(conn: asyncpg.Connection) -> None:
        await repo.lock_for_key_update(conn, doc_id)
        if new_customer:
            await repo.set_stripe_customer(conn, buyer["client_id"], customer_id)
        await repo.set_stripe_invoice(conn, doc_id, invoice_id)

    return jobs.Done(apply=record)


def invoice_payment_intent(inv: Any) -> str | None:
    """The payment intent that paid ``inv``.

    Since API 2025-03-31 (the SDK pins a later version) Stripe lists it under
    ``invoice.payments.data[].payment.payment_intent``; older versions put it on the invoice.
    """
    found = getattr(inv, "payments", None)
    for item in getattr(found, "data", None) or []:
        payment = getattr(item, "payment", None)
        intent = getattr(payment, "payment_intent", None) if payment is not None else None
        if intent:
            return intent if isinstance(intent, str) else str(intent.id)
    legacy = getattr(inv, "payment_intent", None)
    return str(legacy) if legacy else None


async def refund(pool: asyncpg.Pool, client: stripe.StripeClient, job: jobs.Job) -> jobs.Outcome:
    """B5: refund through the original payment method (the invoice's payment intent)."""
    note_id = uuid.UUID(job.payload["credit_note_id"])
    async with transaction(pool) as conn:
        ours = await repo.refund_for(conn, note_id)
        if ours is None:
            return jobs.Fail(f"no refund for credit note {note_id}")
        if ours["stripe_refund_id"] is not None:
            return jobs.Done()
        invoice = await repo.document(conn, ours["invoice_id"])
    if invoice is None or invoice["stripe_invoice_id"] is None:
        return jobs.Fail(f"the invoice of credit note {note_id} was never on Stripe")
    stripe_invoice = await client.v1.invoices.retrieve_async(
        invoice["stripe_invoice_id"], {"expand": ["payments"]}
    )
    target: dict[str, Any] = {}
    if payment_intent := invoice_payment_intent(stripe_invoice):
        target["payment_intent"] = payment_intent
    elif charge := getattr(stripe_invoice, "charge", None):
        target["charge"] = charge
    else:
        return jobs.Retry(f"Stripe invoice {stripe_invoice.id} has no payment to refund yet")
    # Keyed by the credit note: one credit note, one refund, however often this job reruns.
    params: Any = {
        **target,
        "amount": to_cents(ours["amount"]),
        "reason": "requested_by_customer",
        "metadata": {
            "prisme_refund_id": str(ours["id"]),
            "prisme_credit_note_id": str(note_id),
        },
    }
    created = await client.v1.refunds.create_async(
        params, idempotent(f"credit_note:{note_id}:refund")
    )

    async def record(conn: asyncpg.Connection) -> None:
        current = await repo.refund_for(conn, note_id)  # locked: the webhook may race us
        assert current is not None
        by = audit.Actor.system("stripe-refund")
        await payments.refund_settled(conn, current, created.id, created.status or "pending", by)

    return jobs.Done(apply=record)


async def paid_out_of_band(
    pool: asyncpg.Pool, client: stripe.StripeClient, job: jobs.Job
) -> jobs.Outcome:
    """Close the Stripe invoice of an invoice paid by transfer or cheque."""
    doc_id = uuid.UUID(job.payload["document_id"])
    async with transaction(pool) as conn:
        doc = await repo.document(conn, doc_id)
        pushed = await jobs.get_state(conn, stripe_jobs.PUSH_INVOICE, stripe_jobs.push_key(doc_id))
    if doc is None:
        return jobs.Fail(f"no document {doc_id}")
    stripe_id = doc["stripe_invoice_id"]
    if stripe_id is None:
        if pushed in (None, jobs.JobState.DEAD, jobs.JobState.CANCELLED):
            return jobs.Done()  # never reached Stripe: nothing to close
        return jobs.Retry("the Stripe invoice is not created yet")  # after the push
    current = await client.v1.invoices.retrieve_async(stripe_id)
    if current.status == "open":
        await client.v1.invoices.pay_async(
            stripe_id, {"paid_out_of_band": True}, idempotent(f"invoice:{doc_id}:paid_out_of_band")
        )
    return jobs.Done()


async def update_customer(
    pool: asyncpg.Pool, client: stripe.StripeClient, job: jobs.Job
) -> jobs.Outcome:
    """C8: the client's Stripe customer takes the identity billing holds now."""
    client_id = uuid.UUID(job.payload["client_id"])
    async with transaction(pool) as conn:
        buyer = await repo.client(conn, client_id)
    if buyer is None:
        return jobs.Fail(f"no client {client_id}")
    if buyer["stripe_customer_id"] is None:
        return jobs.Done()  # no customer yet: it will be created with this identity
    await client.v1.customers.update_async(
        buyer["stripe_customer_id"],
        {
            "name": buyer["name"],
            "email": buyer["email"],
            "metadata": {"prisme_client_id": str(client_id), "siren": buyer["siren"]},
        },
        idempotent(f"{job.key}:update"),
    )
    return jobs.Done()
