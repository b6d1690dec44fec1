"""Billing's Stripe work on the chassis job queue (B5, B8): the job kinds it runs and the
periodic reconciliation.

``bindings`` gives the chassis worker a handler per kind (``stripe_calls`` for our calls,
``stripe_events`` for received events) with the back-off of the settings; ``reconcile_loop``
is a service worker that lists Stripe's events now and then to catch missed webhooks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg
import stripe
from prisme_chassis import jobs

from . import stripe_calls, stripe_events, stripe_jobs
from .context import BillingRuntime

log = logging.getLogger(__name__)

StripeHandler = Callable[[asyncpg.Pool, stripe.StripeClient, jobs.Job], Awaitable[jobs.Outcome]]


def _run(rt: BillingRuntime, handler: StripeHandler) -> jobs.Handler:
    """The handler with its pool and client; Stripe's throttling waits as Stripe asks."""

    async def run(job: jobs.Job) -> jobs.Outcome:
        try:
            return await handler(rt.pool, rt.context.stripe, job)
        except stripe.RateLimitError as exc:
            after = (exc.headers or {}).get("retry-after")
            delay = float(after) if after and after.isdigit() else None
            raise jobs.RetryLater("Stripe throttled the request (429)", after=delay) from exc

    return run


def bindings(rt: BillingRuntime) -> list[jobs.JobBinding]:
    """The Stripe job kinds, run only when Stripe is enabled (otherwise they wait queued)."""
    if not rt.settings.stripe_enabled:
        return []
    s = rt.settings
    handlers: dict[jobs.JobKind, StripeHandler] = {
        stripe_jobs.PUSH_INVOICE: stripe_calls.push_invoice,
        stripe_jobs.REFUND: stripe_calls.refund,
        stripe_jobs.PAID_OUT_OF_BAND: stripe_calls.paid_out_of_band,
        stripe_jobs.UPDATE_CUSTOMER: stripe_calls.update_customer,
        stripe_jobs.STRIPE_EVENT: stripe_events.process,
    }
    return [
        kind.with_policy(
            max_attempts=s.stripe_job_max_attempts,
            backoff_base=s.stripe_job_backoff_base_s,
            backoff_cap=s.stripe_job_backoff_cap_s,
        ).handle(_run(rt, handler))
        for kind, handler in handlers.items()
    ]


async def reconcile_loop(rt: BillingRuntime) -> None:
    """Every ``reconcile_every_s``: catch the events Stripe could not deliver (B8)."""
    if not rt.settings.stripe_enabled:
        return
    last = 0.0
    while True:
        if time.monotonic() - last >= rt.settings.reconcile_every_s:
            try:
                await stripe_events.reconcile(rt.pool, rt.context.stripe)
                last = time.monotonic()
            except (OSError, asyncpg.PostgresError, stripe.StripeError) as exc:
                # Stripe or the database away: nothing is lost, try again shortly.
                log.warning("stripe reconciliation will retry: %s", type(exc).__name__)
        await asyncio.sleep(min(rt.settings.reconcile_every_s, 5.0))
