"""HTTP routes of contracts-svc (DESIGN.md §4). Each route is one use-case call.

The edge owns the transaction (``Tx``), except the year-end run which commits batch by batch.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import (
    catalogue,
    cessation,
    clients,
    contracts,
    eligibility,
    interventions,
    inventory,
    partners,
    year_end,
)

#: one router per use case, in the order of the OpenAPI document
routers: list[APIRouter] = [
    catalogue.router,
    partners.router,
    clients.router,
    inventory.router,
    eligibility.router,
    interventions.router,
    contracts.router,
    cessation.router,
    year_end.router,
]
