"""HTTP routes of billing-svc (DESIGN §4) with their request and response schemas, one module
per use case; ``documents`` and ``common`` hold what several of them share."""

from __future__ import annotations

from fastapi import APIRouter

from . import (
    approvals,
    charges,
    contracts,
    credit_notes,
    dunning,
    history,
    invoices,
    one_off,
    payments,
    price_book,
    refunds,
    sending,
    stripe,
    year_end,
)

#: one router per use case, in the order of the OpenAPI document
routers: list[APIRouter] = [
    invoices.router,
    credit_notes.router,
    sending.router,
    payments.router,
    price_book.router,
    charges.router,
    contracts.router,
    year_end.router,
    stripe.router,
    approvals.router,
    refunds.router,
    history.router,
    dunning.router,
    one_off.router,
]
#: without a token: the Stripe webhook, verified by its signature (B8)
public_routers: list[APIRouter] = [stripe.public_router]
