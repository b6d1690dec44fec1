"""Stripe's 429 makes a job wait as long as Stripe asks (its Retry-After), not the back-off."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
import stripe
from prisme_billing import stripe_sync
from prisme_chassis import jobs

JOB = jobs.Job(
    1,
    "billing.stripe_event",
    "stripe_event:evt_1",
    {"event_id": "evt_1"},
    1,
    20,
    None,
    None,
    None,
    datetime(2026, 1, 1, tzinfo=UTC),
)


@pytest.mark.parametrize(("header", "after"), [("12", 12.0), (None, None), ("soon", None)])
async def test_a_stripe_429_is_retried_after_its_retry_after(
    header: str | None, after: float | None
) -> None:
    async def throttled(pool: Any, client: Any, job: jobs.Job) -> jobs.Outcome:
        raise stripe.RateLimitError(
            "Too many requests",
            http_status=429,
            headers={"retry-after": header} if header is not None else {},
        )

    rt = cast(Any, SimpleNamespace(pool=None, context=SimpleNamespace(stripe=None)))
    with pytest.raises(jobs.RetryLater) as raised:
        await stripe_sync._run(rt, throttled)(JOB)
    assert (raised.value.after, raised.value.counts) == (after, True)
    assert "429" in raised.value.error
