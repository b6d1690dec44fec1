"""The Stripe SDK client billing uses, and reading our ids back from Stripe objects."""

from __future__ import annotations

from typing import Any

import stripe

from .settings import BillingSettings


def make_client(settings: BillingSettings) -> stripe.StripeClient:
    """The official SDK, async over httpx, with its network retries on (they reuse the same
    idempotency key, so a retried POST cannot create a second object)."""
    return stripe.StripeClient(
        settings.stripe_key(),
        base_addresses={"api": settings.stripe_api_base},
        http_client=stripe.HTTPXClient(),
        max_network_retries=2,
    )


def idempotent(key: str) -> Any:
    """Request options carrying our idempotency key (built from domain ids)."""
    return {"idempotency_key": key}


def metadata(obj: Any) -> dict[str, str]:
    """The metadata we put on a Stripe object (our ids), as plain strings."""
    raw = getattr(obj, "metadata", None)
    if raw is None:
        return {}
    items = raw.to_dict() if hasattr(raw, "to_dict") else dict(raw)
    return {str(k): str(v) for k, v in items.items()}
