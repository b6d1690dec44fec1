"""billing-svc's ServiceSpec: the chassis plus billing's routes, subscriptions, job kinds and
workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI
from prisme_chassis import jobs
from prisme_chassis.app import ServiceSpec, create_app, run
from prisme_chassis.calendar import business_today
from prisme_chassis.db import transaction

from . import (
    api,
    corrections,
    dunning,
    errors,
    handlers,
    mailing,
    one_off,
    service,
    stripe_sync,
)
from .context import BillingRuntime, build_context
from .settings import BillingSettings


async def awaiting_price_sweeper(rt: BillingRuntime) -> None:
    """B1: invoices charges whose price arrived while they were being recorded."""
    while True:
        async with transaction(rt.pool) as conn:
            await service.sweep_awaiting_charges(conn)
        await asyncio.sleep(rt.settings.sweep_every_s)


async def dunning_worker(rt: BillingRuntime) -> None:
    """B10 and B9: overdue invoices and reminders, one-off invoices of ended months, on the
    business day in La Réunion."""
    while True:
        async with transaction(rt.pool) as conn:
            await dunning.run(conn, business_today(), rt.settings.late_penalty_rate_percent)
        async with transaction(rt.pool) as conn:
            # B9: the month's one-off invoices once the month is over.
            await one_off.invoice_ended_months(conn, business_today())
        await asyncio.sleep(rt.settings.sweep_every_s)


def job_bindings(rt: BillingRuntime) -> list[jobs.JobBinding]:
    """Stripe calls and received Stripe events (B5, B8), e-mails of documents (B11, B10)."""
    return [*stripe_sync.bindings(rt), mailing.binding(rt.pool, rt.settings)]


spec = ServiceSpec(
    name="billing-svc",
    # 1.1: document lines bill quantity × unit price (issue 14); see LineOut.
    # 2.0: the lists of invoices, credit notes, charges and approvals are pages (README *Lists*).
    # 2.1: invoices and credit notes carry the buyer's name (client_name), e.g. for a list.
    version="3.0.0",
    migrations=Path(__file__).parent / "migrations",
    context=build_context,
    routers=api.routers,
    errors=(*errors.CATALOGUE, *corrections.PROBLEMS),
    public_routers=api.public_routers,
    subscriptions=handlers.subscriptions,
    workers=[stripe_sync.reconcile_loop, awaiting_price_sweeper, dunning_worker],
    area="billing",  # /v1/jobs: billing:read to list, billing:write to retry
    jobs=job_bindings,
)


def build_app(settings: BillingSettings | None = None) -> FastAPI:
    return create_app(spec, settings or BillingSettings())


def main() -> None:
    run(build_app)
