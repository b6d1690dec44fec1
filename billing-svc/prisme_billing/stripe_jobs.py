"""The Stripe work of billing as chassis job kinds (B5, B8), and the use cases that ask for it.

Calls to Stripe never run in the transaction that decides them: a use case enqueues a job in
its own transaction (these helpers), the chassis worker runs it later outside any transaction
(``stripe_calls``, ``stripe_events``), with back-off, and an operator sees and retries a dead
one on ``/v1/jobs``. Each job's key comes from our ids and is also the Stripe idempotency key
prefix, so a job repeated after a crash never creates a second Stripe object.
"""

from __future__ import annotations

import uuid

import asyncpg
from prisme_chassis import jobs

#: Create, finalise and send the Stripe invoice of a finalised invoice.
PUSH_INVOICE = jobs.JobKind("billing.stripe_push_invoice", max_attempts=20, backoff_base=5.0)
#: B5: refund a credit note's amount through the invoice's original payment.
REFUND = jobs.JobKind("billing.stripe_refund", max_attempts=20, backoff_base=5.0)
#: Close the Stripe invoice of an invoice paid by transfer or cheque.
PAID_OUT_OF_BAND = jobs.JobKind(
    "billing.stripe_paid_out_of_band", max_attempts=20, backoff_base=5.0
)
#: C8: a corrected client identity reaches its Stripe customer (name, e-mail, SIREN).
UPDATE_CUSTOMER = jobs.JobKind("billing.stripe_update_customer", max_attempts=20, backoff_base=5.0)
#: B8: process a received (or reconciled) Stripe event; its Stripe object is fetched fresh.
STRIPE_EVENT = jobs.JobKind("billing.stripe_event", max_attempts=20, backoff_base=5.0)

CALL_KINDS = (PUSH_INVOICE, REFUND, PAID_OUT_OF_BAND, UPDATE_CUSTOMER)
ALL_KINDS = (*CALL_KINDS, STRIPE_EVENT)


def push_key(doc_id: uuid.UUID) -> str:
    return f"invoice:{doc_id}:push"


async def push_invoice(conn: asyncpg.Connection, doc_id: uuid.UUID) -> None:
    """Ask for the Stripe invoice of ``doc_id`` (in the transaction that finalises it)."""
    await jobs.enqueue(conn, PUSH_INVOICE, push_key(doc_id), {"document_id": str(doc_id)})


async def refund(conn: asyncpg.Connection, credit_note_id: uuid.UUID) -> None:
    """Ask for the Stripe refund of a credit note (its ``refunds`` row is written already)."""
    await jobs.enqueue(
        conn,
        REFUND,
        f"credit_note:{credit_note_id}:refund",
        {"credit_note_id": str(credit_note_id)},
    )


async def close_paid_out_of_band(conn: asyncpg.Connection, doc_id: uuid.UUID) -> None:
    """Ask for the Stripe invoice to be closed: the client must not be asked to pay twice."""
    await jobs.enqueue(
        conn, PAID_OUT_OF_BAND, f"invoice:{doc_id}:paid_out_of_band", {"document_id": str(doc_id)}
    )


async def update_customer(conn: asyncpg.Connection, client_id: uuid.UUID, version: int) -> None:
    """Ask for the client's Stripe customer to take its corrected identity (C8); one job per
    identity version, and the job reads the identity current when it runs."""
    await jobs.enqueue(
        conn,
        UPDATE_CUSTOMER,
        f"client:{client_id}:identity:v{version}",
        {"client_id": str(client_id)},
    )


def event_key(stripe_event_id: str) -> str:
    return f"stripe_event:{stripe_event_id}"


async def process_event(
    conn: asyncpg.Connection, stripe_event_id: str, *, again: bool = False
) -> bool:
    """Ask for a stored Stripe event to be processed; ``again`` revives a dead job (the
    reconciliation seeing the event once more). True when a job was queued by this call."""
    key = event_key(stripe_event_id)
    state = await jobs.get_state(conn, STRIPE_EVENT, key)
    if state is not None and not (again and state in (jobs.JobState.DEAD, jobs.JobState.CANCELLED)):
        return False
    await jobs.enqueue(conn, STRIPE_EVENT, key, {"event_id": stripe_event_id}, revive=again)
    return True
