"""The public Stripe webhook reads no oversized body (DESIGN §7: 1 MiB, before it is read)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_testing.plugin import start_service
from prisme_testing.raw_http import answer_to_headers

MiB = 1024 * 1024


async def _chunks(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        sent += 64 * 1024
        yield b"{" * (64 * 1024)


async def test_a_10_mib_webhook_is_refused_before_it_is_read(
    billing_settings: BillingSettings,
) -> None:
    async with start_service(build_app(billing_settings)) as api:
        head = await answer_to_headers(
            str(api.base_url),
            "POST",
            "/v1/webhooks/stripe",
            {"Content-Type": "application/json", "Content-Length": str(10 * MiB)},
        )
        assert head.startswith(b"HTTP/1.1 413 ")
        resp = await api.post(
            "/v1/webhooks/stripe",
            content=_chunks(MiB + 64 * 1024),
            headers={"content-type": "application/json", "stripe-signature": "t=1,v1=00"},
        )
        assert resp.status_code == 413
        assert resp.json()["type"] == "https://prisme.example/problems/body-too-large"
    # nothing stored: the signature was never even checked
    conn = await asyncpg.connect(billing_settings.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM stripe_events") == 0
    finally:
        await conn.close()
