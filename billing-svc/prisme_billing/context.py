"""What billing-svc's routes and workers need besides a connection, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import stripe
from fastapi import Depends
from prisme_chassis.app import Resources, Runtime, runtime_dependency

from .settings import BillingSettings
from .stripe_client import make_client


@dataclass(frozen=True)
class BillingContext:
    stripe: stripe.StripeClient


async def build_context(resources: Resources[BillingSettings]) -> BillingContext:
    return BillingContext(stripe=make_client(resources.settings))


BillingRuntime = Runtime[BillingSettings, BillingContext]
#: What billing-svc's routes declare to receive the typed runtime.
BillingRuntimeDep = Annotated[
    BillingRuntime, Depends(runtime_dependency(BillingSettings, BillingContext))
]
