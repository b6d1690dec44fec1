"""Routes of Stripe (B8): the webhook (public, verified by its signature), the backlog,
reconciliation."""

from __future__ import annotations

import stripe
from fastapi import APIRouter, Request
from prisme_chassis import audit, jobs
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from pydantic import BaseModel

from .. import errors, stripe_events, stripe_jobs
from ..context import BillingRuntimeDep

router = APIRouter(tags=["billing"])
public_router = APIRouter(tags=["webhooks"])


class WebhookAck(BaseModel):
    received: bool
    stored: bool


@public_router.post("/v1/webhooks/stripe", responses=problems(errors.InvalidSignature))
async def stripe_webhook(request: Request, conn: Tx, rt: BillingRuntimeDep) -> WebhookAck:
    """B8/R3: verified over the raw body, stored once with its processing job (one
    transaction); processed afterwards by the job, with back-off while Stripe is away."""
    payload = await request.body()
    try:
        stored = await stripe_events.receive_webhook(
            conn, payload, request.headers.get("stripe-signature"), rt.settings
        )
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise errors.InvalidSignature("the webhook signature is missing, wrong or too old") from exc
    return WebhookAck(received=True, stored=stored)


class ReconcileOut(BaseModel):
    new_events: int


class StripeBacklogOut(BaseModel):
    jobs_pending: int
    jobs_failed: int
    webhooks_pending: int
    webhooks_failed: int


@router.get("/v1/stripe/backlog")
async def stripe_backlog(
    conn: Tx, who: Principal = require_scopes("billing:read")
) -> StripeBacklogOut:
    """Stripe work not done yet and work given up on (for the dashboard's alerts); the jobs
    themselves are on ``GET /v1/jobs``."""
    found = await jobs.counts(conn, stripe_jobs.ALL_KINDS)
    calls = [found[k.name] for k in stripe_jobs.CALL_KINDS]
    events = found[stripe_jobs.STRIPE_EVENT.name]
    open_states = (jobs.JobState.QUEUED, jobs.JobState.RUNNING)
    return StripeBacklogOut(
        jobs_pending=sum(c[s] for c in calls for s in open_states),
        jobs_failed=sum(c[jobs.JobState.DEAD] for c in calls),
        webhooks_pending=sum(events[s] for s in open_states),
        webhooks_failed=events[jobs.JobState.DEAD],
    )


@router.post("/v1/stripe/reconcile", responses=problems(errors.StripeUnavailable))
async def reconcile(
    rt: BillingRuntimeDep, actor: audit.ActorDep, who: Principal = require_scopes("billing:write")
) -> ReconcileOut:
    """Fetch Stripe events missed by the webhook (also run periodically by the worker)."""
    try:
        new_events = await stripe_events.reconcile(rt.pool, rt.context.stripe, actor)
    except stripe.StripeError as exc:
        # Nothing was lost: the worker reconciles again later.
        raise errors.StripeUnavailable(
            f"Stripe answered {type(exc).__name__}; try again later"
        ) from exc
    return ReconcileOut(new_events=new_events)
