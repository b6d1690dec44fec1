"""Stripe events (B8, R3): received by the webhook or found by reconciliation, stored once,
then processed by a chassis job with back-off.

The webhook route verifies the signature, stores the event (unique on Stripe's event id) and
enqueues its job in one transaction, and answers at once; nothing calls Stripe there. The job
fetches the object the event is about (the event is only a hint: the object as Stripe has it
now decides, so processing is order-independent) and applies it. A Stripe outage only delays
the job; an event whose job died is queued again when reconciliation sees it once more.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, cast

import asyncpg
import stripe
from prisme_chassis import audit, jobs
from prisme_chassis.db import transaction
from prisme_chassis.money import from_cents, money_str

from . import payments, stripe_jobs
from . import repository as repo
from .settings import BillingSettings
from .stripe_calls import invoice_payment_intent
from .stripe_client import metadata

log = logging.getLogger(__name__)

SOURCE = "stripe"


def stripe_actor(event_id: str) -> audit.Actor:
    """O3: a change Stripe's event caused (``system:stripe``, the event id as request id)."""
    return audit.Actor(sub="system:stripe", name="Stripe", request_id=event_id)


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
#: Reconciliation re-reads this much before its mark: events can be created out of order.
RECONCILE_OVERLAP_S = 600


async def receive_webhook(
    conn: asyncpg.Connection, payload: bytes, signature: str | None, settings: BillingSettings
) -> bool:
    """R3: verify the signature over the raw body (with the replay window), keep only allowed
    types, store the event once and enqueue its processing, in the caller's transaction.
    True when the event is new. Raises ``stripe.SignatureVerificationError``/``ValueError``."""
    if not signature:
        raise ValueError("missing Stripe-Signature header")
    event = stripe.Webhook.construct_event(
        payload, signature, settings.webhook_secret(), tolerance=settings.stripe_webhook_tolerance_s
    )
    if event.type not in ALLOWED_EVENTS:
        return False
    stored = await repo.store_stripe_event(conn, event.id, event.type, event.to_dict(), "webhook")
    await stripe_jobs.process_event(conn, event.id)
    return stored


# --- processing (the job) ---------------------------------------------------------------------


async def process(pool: asyncpg.Pool, client: stripe.StripeClient, job: jobs.Job) -> jobs.Outcome:
    """Fetch what the stored event is about from Stripe, then apply it with the job's record."""
    event_id = str(job.payload["event_id"])
    async with transaction(pool) as conn:
        row = await repo.stripe_event(conn, event_id)
    if row is None:
        return jobs.Fail(f"Stripe event {event_id} is not stored")
    obj = row["payload"]["data"]["object"]
    kind = row["type"]
    if kind.startswith("invoice."):
        apply = await _invoice_update(client, obj["id"], kind, event_id)
    elif kind == "charge.refunded":
        refunds = await client.v1.refunds.list_async({"charge": obj["id"], "limit": 100})
        found = [await client.v1.refunds.retrieve_async(r.id) for r in refunds.data]
        apply = _refund_updates(found, event_id)
    else:
        apply = _refund_updates([await client.v1.refunds.retrieve_async(obj["id"])], event_id)

    async def record(conn: asyncpg.Connection) -> None:
        await apply(conn)
        await repo.stripe_event_processed(conn, event_id)

    return jobs.Done(apply=record)


async def _invoice_update(
    client: stripe.StripeClient, stripe_id: str, event_type: str, event_id: str
) -> jobs.Apply:
    inv = await client.v1.invoices.retrieve_async(stripe_id)
    method = reason = None
    if inv.status == "paid":
        method = await _payment_method_type(client, inv)
    elif event_type == "invoice.payment_failed":
        reason = await _failure_reason(client, inv)
    doc_key = metadata(inv).get("prisme_document_id")

    async def apply(conn: asyncpg.Connection) -> None:
        doc = await repo.document_by_stripe_id(conn, stripe_id)
        if doc is None and doc_key is not None:
            doc = await repo.document(conn, uuid.UUID(doc_key), lock=True)
        if doc is None:
            return  # not one of ours
        if method is not None:
            amount = inv.amount_paid or 0
            if await payments.stripe_invoice_paid(conn, doc, stripe_id, amount, method):
                await audit.record(
                    conn,
                    stripe_actor(event_id),
                    "payment.received",
                    target_type="invoice",
                    target_id=doc["id"],
                    client_id=doc["client_id"],
                    detail={
                        "number": doc["number"],
                        "method": method,
                        "amount": money_str(from_cents(amount)),
                        "stripe_invoice": stripe_id,
                    },
                )
        elif reason is not None and await payments.stripe_payment_failed(
            conn, doc, event_id, reason
        ):
            await audit.record(
                conn,
                stripe_actor(event_id),
                "payment.failed",
                target_type="invoice",
                target_id=doc["id"],
                client_id=doc["client_id"],
                detail={"number": doc["number"], "reason": reason, "stripe_invoice": stripe_id},
            )

    return apply


def _refund_updates(refunds: list[Any], event_id: str) -> jobs.Apply:
    async def apply(conn: asyncpg.Connection) -> None:
        for refund in refunds:
            ours = await repo.refund_by_stripe_id(conn, refund.id)
            if ours is None:
                key = metadata(refund).get("prisme_refund_id")
                if key is None:
                    continue
                ours = await repo.refund_by_id(conn, uuid.UUID(key))
                if ours is None:
                    continue
            await payments.refund_settled(
                conn, ours, refund.id, refund.status or "pending", stripe_actor(event_id)
            )

    return apply


async def _invoice_charge(client: stripe.StripeClient, inv: Any) -> str | None:
    if charge := getattr(inv, "charge", None):
        return str(charge)
    if intent_id := invoice_payment_intent(inv):
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


# --- reconciliation ----------------------------------------------------------------------------


async def reconcile(
    pool: asyncpg.Pool, client: stripe.StripeClient, actor: audit.Actor | None = None
) -> int:
    """Catch missed webhooks: list Stripe's events since the last mark, store the ones we do
    not have and queue their processing; an event whose job died is queued again (nothing
    received is lost for good). Returns how many events were queued.

    O3: the ``stripe.reconciled`` row is written in the transaction that moves the mark (the
    run's last change), by ``actor`` (the operator who asked), or by ``system:stripe-reconcile``
    when the periodic run queued something."""
    async with transaction(pool) as conn:
        mark = await repo.reconciliation_mark(conn, SOURCE)
    since = max(0, (mark or 0) - RECONCILE_OVERLAP_S)
    queued = 0
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
                await repo.store_stripe_event(
                    conn, event.id, event.type, event.to_dict(), "reconciliation"
                )
                if await stripe_jobs.process_event(conn, event.id, again=True):
                    queued += 1
        if not page.has_more or not page.data:
            break
        starting_after = page.data[-1].id
    async with transaction(pool) as conn:
        await repo.set_reconciliation_mark(conn, SOURCE, newest or int(time.time()))
        if actor is not None or queued:
            await audit.record(
                conn,
                actor or audit.Actor.system("stripe-reconcile"),
                "stripe.reconciled",
                target_type="stripe",
                detail={"new_events": queued},
            )
    return queued
