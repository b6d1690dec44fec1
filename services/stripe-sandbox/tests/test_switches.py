"""Failure switches: injected 5xx (before/after the work), latency, declines, SEPA, advance, reset."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe

from .conftest import Factory, Receiver, eventually


async def _log(control: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await control.get("/_sandbox/requests")).json()["data"]
    return [r for r in rows if r["path"] == path and r["method"] == "POST"]


async def test_injected_500_before_work_is_retried_by_the_sdk(
    client: stripe.StripeClient, control: httpx.AsyncClient
) -> None:
    r = await control.post(
        "/_sandbox/switches", json={"fail_next_requests": 1, "fail_path_prefix": "/v1/customers"}
    )
    assert r.json()["fail_next_requests"] == 1
    cus = await client.v1.customers.create_async(params={"email": "retry@example.re"})
    rows = await _log(control, "/v1/customers")
    assert [(r["status"], r["injected"]) for r in rows] == [(500, True), (200, False)]
    assert rows[0]["idempotency_key"] == rows[1]["idempotency_key"]
    assert [c.id for c in (await client.v1.customers.list_async()).data] == [cus.id]


async def test_injected_500_without_retries_surfaces_as_api_error(
    make_client: Callable[..., stripe.StripeClient], control: httpx.AsyncClient
) -> None:
    await control.post("/_sandbox/switches", json={"fail_next_requests": 1, "fail_status": 503})
    with pytest.raises(stripe.APIError) as caught:
        await make_client(retries=0).v1.customers.create_async(params={"email": "x@example.re"})
    assert caught.value.http_status == 503
    assert (await control.get("/_sandbox/switches")).json()["fail_next_requests"] == 0


async def test_lost_response_after_work_is_replayed_not_redone(
    client: stripe.StripeClient, factory: Factory, control: httpx.AsyncClient
) -> None:
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id)
    await control.post(
        "/_sandbox/switches",
        json={"fail_next_requests": 1, "fail_mode": "after", "fail_path_prefix": "/v1/invoices"},
    )
    paid = await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})
    assert paid.status == "paid"
    rows = await _log(control, f"/v1/invoices/{inv.id}/pay")
    assert [(r["status"], r["replayed"]) for r in rows] == [(500, False), (200, True)]
    charges = await client.v1.charges.list_async(params={"customer": cus.id})
    assert len(charges.data) == 1  # billed once


async def test_latency_injection(client: stripe.StripeClient, control: httpx.AsyncClient) -> None:
    await control.post("/_sandbox/switches", json={"latency_ms": 300})
    started = time.monotonic()
    await client.v1.customers.list_async()
    assert time.monotonic() - started >= 0.3
    await control.post("/_sandbox/switches", json={"latency_ms": 0})


async def test_decline_next_payment_switch(
    client: stripe.StripeClient, factory: Factory, control: httpx.AsyncClient, receiver: Receiver
) -> None:
    await control.post(
        "/_sandbox/switches",
        json={"decline_next_payments": 1, "decline_code": "insufficient_funds"},
    )
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id)
    with pytest.raises(stripe.CardError) as caught:
        await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})
    assert caught.value.error is not None
    assert caught.value.error.decline_code == "insufficient_funds"
    await eventually(lambda: receiver.of_type("invoice.payment_failed"))
    paid = await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})
    assert paid.status == "paid"


async def test_bad_switch_values_are_refused(control: httpx.AsyncClient) -> None:
    r = await control.post("/_sandbox/switches", json={"fail_mode": "sometimes"})
    assert r.status_code == 400
    assert (await control.get("/_sandbox/switches")).json()["fail_mode"] == "before"


async def test_sepa_auto_settle_follows_the_test_iban(
    client: stripe.StripeClient, factory: Factory, control: httpx.AsyncClient
) -> None:
    await control.post("/_sandbox/switches", json={"sepa_auto_settle_seconds": 0})
    cus = await factory.customer()
    outcomes = {}
    for iban in ("AT611904300234573201", "AT861904300235473202"):
        pm = await client.v1.payment_methods.create_async(
            params={"type": "sepa_debit", "sepa_debit": {"iban": iban}}
        )
        inv = await factory.open_invoice(cus.id)
        await client.v1.invoices.pay_async(inv.id, params={"payment_method": pm.id})
        for _ in range(500):
            pi = await client.v1.payment_intents.retrieve_async(
                (await client.v1.invoices.retrieve_async(inv.id)).payment_intent
            )
            if pi.status != "processing":
                break
            await asyncio.sleep(0.02)
        outcomes[iban] = ((await client.v1.invoices.retrieve_async(inv.id)).status, pi.status)
    assert outcomes == {
        "AT611904300234573201": ("paid", "succeeded"),
        "AT861904300235473202": ("open", "requires_payment_method"),
    }


async def test_advance_runs_automatic_collection(
    client: stripe.StripeClient, factory: Factory, control: httpx.AsyncClient
) -> None:
    cus = await factory.customer(
        payment_method="pm_card_visa", invoice_settings={"default_payment_method": "pm_card_visa"}
    )
    inv = await factory.draft_invoice(cus.id, auto_advance=True)
    manual = await factory.draft_invoice(cus.id)
    r = await control.post("/_sandbox/advance")
    assert r.json()["invoices"] == [{"invoice": inv.id, "status": "paid", "error": None}]
    assert (await client.v1.invoices.retrieve_async(manual.id)).status == "draft"


async def test_reset_forgets_objects_but_keeps_the_webhook(
    client: stripe.StripeClient, factory: Factory, control: httpx.AsyncClient
) -> None:
    cus = await factory.customer()
    await control.post("/_sandbox/switches", json={"drop_webhooks": True})
    await control.post("/_sandbox/reset")
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.customers.retrieve_async(cus.id)
    assert (await control.get("/_sandbox/switches")).json()["drop_webhooks"] is False
    assert (await control.get("/_sandbox/webhook")).json()["url"].endswith("/webhooks/stripe")
    for probe in ("/healthz", "/_sandbox/health"):
        assert (await control.get(probe)).json() == {"status": "ok"}
