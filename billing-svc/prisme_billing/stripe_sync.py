"""Stripe side of billing (B5, B8): the durable job worker, webhook processing, reconciliation.

Everything that calls Stripe runs from a table (``stripe_jobs``, ``webhook_events``) in a
worker, one row per transaction, so a crash anywhere is retried, and every mutating call
carries an idempotency key built from our ids so the retry never creates a second object.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

import asyncpg
import stripe
from prisme_chassis.db import transaction
from prisme_chassis.money import to_cents

from . import domain, payments
from . import repository as repo
from .settings import BillingSettings

log = logging.getLogger(__name__)

SOURCE = "stripe"
#: Stripe event types we act on (B8); anything else is acknowledged and dropped.
ALLOWED_EVENTS = frozenset(
    {
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "charge.refunded",
        "refund.created",
        "refund.updated",
        "refund.failed",
    }
)
MAX_ATTEMPTS = 12
#: Reconciliation re-reads this much before its mark: events can be created out of order.
RECONCILE_OVERLAP_S = 600


def make_client(settings: BillingSettings) -> stripe.StripeClient:
    """The official SDK, async over httpx, with its network retries on (they reuse the same
    idempotency key, so a retried POST cannot create a second object)."""
    return stripe.StripeClient(
        settings.stripe_key(),
        base_addresses={"api": settings.stripe_api_base},
        http_client=stripe.HTTPXClient(),
        max_network_retries=2,
    )


def _opts(key: str) -> Any:
    return {"idempotency_key": key}


def _meta(obj: Any) -> dict[str, str]:
    raw = getattr(obj, "metadata", None)
    if raw is None:
        return {}
    items = raw.to_dict() if hasattr(raw, "to_dict") else dict(raw)
    return {str(k): str(v) for k, v in items.items()}


# --- jobs ----------------------------------------------------------------------------------


async def _push_invoice(
    conn: asyncpg.Connection, client: stripe.StripeClient, doc_id: uuid.UUID
) -> None:
    """Create, finalise and send the Stripe invoice of one of our finalised invoices."""
    doc = await repo.document(conn, doc_id, lock=True)
    assert doc is not None
    if doc["stripe_invoice_id"] is not None:
        return
    buyer = await repo.client(conn, doc["client_id"])
    assert buyer is not None
    customer_id = buyer["stripe_customer_id"]
    if customer_id is None:
        # One Stripe customer per client: keyed by the client id, a retry returns the same one.
        customer = await client.v1.customers.create_async(
            {
                "name": buyer["name"],
                "email": buyer["email"],
                "preferred_locales": ["fr"],
                "metadata": {"prisme_client_id": str(buyer["client_id"]), "siren": buyer["siren"]},
            },
            _opts(f"client:{buyer['client_id']}:customer"),
        )
        customer_id = customer.id
        await repo.set_stripe_customer(conn, buyer["client_id"], customer_id)
    # One Stripe invoice per document, keyed by the document id: a crash after this call and
    # before our commit replays the same invoice instead of billing the client twice.
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
        _opts(f"invoice:{doc_id}:create"),
    )
    assert invoice.id is not None
    lines = (await repo.lines(conn, [doc_id]))[doc_id]
    for ln in lines:
        await client.v1.invoice_items.create_async(
            {
                "customer": customer_id,
                "invoice": invoice.id,
                "amount": to_cents(ln["total_ttc"]),
                "currency": "eur",
                "description": ln["description"],
            },
            _opts(f"invoice:{doc_id}:line:{ln['position']}"),
        )
    await client.v1.invoices.finalize_invoice_async(
        invoice.id, {}, _opts(f"invoice:{doc_id}:finalize")
    )
    await client.v1.invoices.send_invoice_async(invoice.id, {}, _opts(f"invoice:{doc_id}:send"))
    await repo.set_stripe_invoice(conn, doc_id, invoice.id)


async def _refund(
    conn: asyncpg.Connection, client: stripe.StripeClient, note_id: uuid.UUID
) -> None:
    """B5: refund through the original payment method (the invoice's payment intent)."""
    refund = await repo.refund_for(conn, note_id)
    assert refund is not None
    if refund["stripe_refund_id"] is not None:
        return
    invoice = await repo.document(conn, refund["invoice_id"])
    assert invoice is not None
    assert invoice["stripe_invoice_id"] is not None
    stripe_invoice = await client.v1.invoices.retrieve_async(
        invoice["stripe_invoice_id"], {"expand": ["payments"]}
    )
    target: dict[str, Any] = {}
    if payment_intent := _invoice_payment_intent(stripe_invoice):
        target["payment_intent"] = payment_intent
    elif charge := getattr(stripe_invoice, "charge", None):
        target["charge"] = charge
    else:
        raise RuntimeError(f"Stripe invoice {stripe_invoice.id} has no payment to refund")
    # Keyed by the credit note: one credit note, one refund, however often this job reruns.
    params: Any = {
        **target,
        "amount": to_cents(refund["amount"]),
        "reason": "requested_by_customer",
        "metadata": {
            "prisme_refund_id": str(refund["id"]),
            "prisme_credit_note_id": str(note_id),
        },
    }
    created = await client.v1.refunds.create_async(params, _opts(f"credit_note:{note_id}:refund"))
    await payments.refund_settled(conn, refund, created.id, created.status or "pending")


async def _paid_out_of_band(
    conn: asyncpg.Connection, client: stripe.StripeClient, doc_id: uuid.UUID
) -> None:
    """Close the Stripe invoice of an invoice paid by transfer or cheque."""
    doc = await repo.document(conn, doc_id)
    assert doc is not None
    if doc["stripe_invoice_id"] is None:
        pushed = await repo.job_status(conn, "push_invoice", doc_id)
        if pushed in (None, "failed"):
            return  # never reached Stripe: nothing to close
        raise RuntimeError("the Stripe invoice is not created yet")  # retried after the push
    current = await client.v1.invoices.retrieve_async(doc["stripe_invoice_id"])
    if current.status != "open":
        return
    await client.v1.invoices.pay_async(
        doc["stripe_invoice_id"],
        {"paid_out_of_band": True},
        _opts(f"invoice:{doc_id}:paid_out_of_band"),
    )


JOBS: dict[str, Callable[[asyncpg.Connection, stripe.StripeClient, uuid.UUID], Awaitable[None]]] = {
    "push_invoice": _push_invoice,
    "refund": _refund,
    "paid_out_of_band": _paid_out_of_band,
}


async def run_one_job(pool: asyncpg.Pool, client: stripe.StripeClient) -> bool:
    """Run the next due job in its own transaction; ``False`` when none is due."""
    async with transaction(pool) as conn:
        job = await repo.claim_job(conn)
        if job is None:
            return False
        try:
            async with conn.transaction():  # savepoint: a failed call leaves no partial state
                await JOBS[job["kind"]](conn, client, job["document_id"])
        except (stripe.StripeError, asyncpg.PostgresError, RuntimeError) as exc:
            attempts = job["attempts"] + 1
            delay = min(300.0, 0.5 * 2**attempts)
            log.warning("stripe job %s (%s) failed: %s", job["id"], job["kind"], type(exc).__name__)
            await repo.retry_job(
                conn, job["id"], f"{type(exc).__name__}: {exc}", delay, attempts >= MAX_ATTEMPTS
            )
        else:
            await repo.finish_job(conn, job["id"])
        return True


# --- webhooks --------------------------------------------------------------------------------


async def receive_webhook(
    conn: asyncpg.Connection, payload: bytes, signature: str | None, settings: BillingSettings
) -> bool:
    """R3: verify the signature over the raw body (with the replay window), keep only allowed
    types, store the event once. Raises ``stripe.SignatureVerificationError``/``ValueError``."""
    if not signature:
        raise ValueError("missing Stripe-Signature header")
    event = stripe.Webhook.construct_event(
        payload, signature, settings.webhook_secret(), tolerance=settings.stripe_webhook_tolerance_s
    )
    if event.type not in ALLOWED_EVENTS:
        return False
    return await repo.store_webhook(conn, SOURCE, event.id, event.type, event.to_dict(), "webhook")


async def _process_event(
    conn: asyncpg.Connection, client: stripe.StripeClient, row: asyncpg.Record
) -> None:
    obj = row["payload"]["data"]["object"]
    if row["type"].startswith("invoice."):
        await _apply_invoice(conn, client, obj["id"], row["type"], row["external_id"])
    elif row["type"] == "charge.refunded":
        refunds = await client.v1.refunds.list_async({"charge": obj["id"], "limit": 100})
        for r in refunds.data:
            await _apply_refund(conn, client, r.id)
    else:
        await _apply_refund(conn, client, obj["id"])


async def _apply_invoice(
    conn: asyncpg.Connection,
    client: stripe.StripeClient,
    stripe_id: str,
    event_type: str,
    event_id: str,
) -> None:
    # The event is only a hint; the invoice as Stripe has it now decides (order-independent).
    inv = await client.v1.invoices.retrieve_async(stripe_id)
    doc = await repo.document_by_stripe_id(conn, stripe_id)
    if doc is None:
        doc_key = _meta(inv).get("prisme_document_id")
        if doc_key is None:
            return  # not one of ours
        doc = await repo.document(conn, uuid.UUID(doc_key), lock=True)
        if doc is None:
            return
    if inv.status == "paid":
        method = await _payment_method_type(client, inv)
        await payments.stripe_invoice_paid(conn, doc, stripe_id, inv.amount_paid or 0, method)
    elif event_type == "invoice.payment_failed":
        reason = await _failure_reason(client, inv)
        await payments.stripe_payment_failed(conn, doc, event_id, reason)


def _invoice_payment_intent(inv: Any) -> str | None:
    """The payment intent that paid ``inv``.

    Since API 2025-03-31 (the SDK pins a later version) Stripe lists it under
    ``invoice.payments.data[].payment.payment_intent``; older versions put it on the invoice.
    """
    payments = getattr(inv, "payments", None)
    for item in getattr(payments, "data", None) or []:
        payment = getattr(item, "payment", None)
        intent = getattr(payment, "payment_intent", None) if payment is not None else None
        if intent:
            return intent if isinstance(intent, str) else str(intent.id)
    legacy = getattr(inv, "payment_intent", None)
    return str(legacy) if legacy else None


async def _invoice_charge(client: stripe.StripeClient, inv: Any) -> str | None:
    if charge := getattr(inv, "charge", None):
        return str(charge)
    if intent_id := _invoice_payment_intent(inv):
        intent = await client.v1.payment_intents.retrieve_async(intent_id)
        latest = getattr(intent, "latest_charge", None)
        if latest:
            return latest if isinstance(latest, str) else str(latest.id)
    return None


async def _payment_method_type(client: stripe.StripeClient, inv: Any) -> str:
    charge_id = await _invoice_charge(client, inv)
    if charge_id:
        charge = await client.v1.charges.retrieve_async(charge_id)
        details = getattr(charge, "payment_method_details", None)
        if details is not None and getattr(details, "type", None):
            return str(details.type)
    return "stripe"


async def _failure_reason(client: stripe.StripeClient, inv: Any) -> str:
    charge_id = await _invoice_charge(client, inv)
    if charge_id:
        charge = await client.v1.charges.retrieve_async(charge_id)
        code = getattr(charge, "failure_code", None)
        if code:
            return str(code)
    return "payment_failed"


async def _apply_refund(
    conn: asyncpg.Connection, client: stripe.StripeClient, refund_id: str
) -> None:
    refund = await client.v1.refunds.retrieve_async(refund_id)
    ours = await repo.refund_by_stripe_id(conn, refund_id)
    if ours is None:
        key = _meta(refund).get("prisme_refund_id")
        if key is None:
            return
        ours = await repo.refund_by_id(conn, uuid.UUID(key))
        if ours is None:
            return
    await payments.refund_settled(conn, ours, refund.id, refund.status or "pending")


async def process_one_webhook(pool: asyncpg.Pool, client: stripe.StripeClient) -> bool:
    async with transaction(pool) as conn:
        row = await repo.claim_webhook(conn)
        if row is None:
            return False
        try:
            async with conn.transaction():
                await _process_event(conn, client, row)
        except (stripe.StripeError, asyncpg.PostgresError, KeyError) as exc:
            log.warning("stripe event %s not processed: %s", row["external_id"], type(exc).__name__)
            await repo.webhook_failed(conn, row["id"], f"{type(exc).__name__}: {exc}")
        else:
            await repo.webhook_done(conn, row["id"])
        return True


# --- reconciliation ----------------------------------------------------------------------------


async def reconcile(pool: asyncpg.Pool, client: stripe.StripeClient) -> int:
    """Catch missed webhooks: list Stripe's events since the last mark and store the ones we do
    not have (same unique constraint, so nothing is processed twice). Returns how many were new."""
    async with transaction(pool) as conn:
        mark = await repo.reconciliation_mark(conn, SOURCE)
    since = max(0, (mark or 0) - RECONCILE_OVERLAP_S)
    new = 0
    newest = mark or 0
    starting_after: str | None = None
    while True:
        params: dict[str, Any] = {
            "created": {"gte": since},
            "types": sorted(ALLOWED_EVENTS),
            "limit": 100,
        }
        if starting_after:
            params["starting_after"] = starting_after
        page = await client.v1.events.list_async(cast(Any, params))
        async with transaction(pool) as conn:
            for event in page.data:
                newest = max(newest, event.created)
                if await repo.store_webhook(
                    conn, SOURCE, event.id, event.type, event.to_dict(), "reconciliation"
                ):
                    new += 1
        if not page.has_more or not page.data:
            break
        starting_after = page.data[-1].id
    async with transaction(pool) as conn:
        await repo.set_reconciliation_mark(conn, SOURCE, newest or int(time.time()))
    return new


# --- worker loops (ServiceSpec.workers) ------------------------------------------------------


async def drain(pool: asyncpg.Pool, client: stripe.StripeClient) -> int:
    """Run every due job and pending event; returns how many rows were handled."""
    handled = 0
    while await run_one_job(pool, client) or await process_one_webhook(pool, client):
        handled += 1
    return handled


async def worker_loop(
    pool: asyncpg.Pool, client: stripe.StripeClient, settings: BillingSettings
) -> None:
    last_reconcile = 0.0
    while True:
        try:
            await drain(pool, client)
            now = time.monotonic()
            if now - last_reconcile >= settings.reconcile_every_s:
                await reconcile(pool, client)
                last_reconcile = now
        except (OSError, asyncpg.PostgresError, stripe.StripeError) as exc:
            # Database or Stripe away: the rows stay in their tables; try again shortly.
            log.warning("billing worker: %s", type(exc).__name__)
        await asyncio.sleep(settings.worker_poll_s)
