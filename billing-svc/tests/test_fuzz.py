"""R2: schemathesis (every check, coverage, fuzzing and stateful phases) against billing-svc."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_testing.fuzz import CHASSIS_ROUTES, ONE_UNEXPECTED_METHOD, fuzz_openapi
from prisme_testing.plugin import publish_event, start_service


async def test_openapi_fuzzing_finds_no_server_error(
    stripe_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    # With the Stripe stand-in up: an unreachable Stripe is a legitimate 503 on /reconcile.
    async with start_service(build_app(stripe_settings), headers=auth_headers) as api:
        await publish_event(stripe_settings.nats_url, activated(postes=7, start=date(2026, 2, 1)))

        async def invoiced() -> list[Any]:
            return list((await api.get("/v1/invoices")).json())

        await wait_for(invoiced)
        # every operation of billing-svc; the chassis' routes and the eight unexpected
        # methods are checked elsewhere (see CHASSIS_ROUTES, ONE_UNEXPECTED_METHOD)
        failures = await fuzz_openapi(
            str(api.base_url),
            dict(api.headers),
            max_examples=5,
            every_check=True,
            skip=CHASSIS_ROUTES,
            unexpected_methods=ONE_UNEXPECTED_METHOD,
        )
        assert failures == [], "\n".join(failures)
