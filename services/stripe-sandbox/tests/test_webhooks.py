"""Signed webhook delivery: verification, retries, drops, replays, duplicates, ordering."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import stripe
from prisme_stripe_sandbox import sign

from .conftest import WEBHOOK_SECRET, Factory, Receiver, eventually


def test_signature_matches_stripe_scheme() -> None:
    payload = '{"id": "evt_1", "object": "event", "type": "customer.created"}'
    header = sign(payload, WEBHOOK_SECRET, int(time.time()))
    event = stripe.Webhook.construct_event(payload, header, WEBHOOK_SECRET)
    assert event.id == "evt_1"


Rows = list[dict[str, Any]]


async def _deliveries(control: httpx.AsyncClient, event_id: str) -> Rows:
    rows: Rows = (await control.get("/_sandbox/deliveries", params={"event_id": event_id})).json()[
        "data"
    ]
    return rows


async def _rows_until(
    control: httpx.AsyncClient, event_id: str, done: Callable[[Rows], bool]
) -> Rows:
    """The delivery log of an event once ``done`` holds (a row is written when the answer is back)."""
    rows: Rows = []
    for _ in range(500):
        rows = await _deliveries(control, event_id)
        if done(rows):
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(rows)


async def test_events_are_signed_listed_and_retrievable(
    client: stripe.StripeClient, factory: Factory, receiver: Receiver
) -> None:
    cus = await factory.customer()
    received = await eventually(lambda: receiver.of_type("customer.created"))
    assert received[0].data.object.id == cus.id
    event = await client.v1.events.retrieve_async(received[0].id)
    assert event.type == "customer.created"
    assert event.request.idempotency_key  # the SDK sends one on every POST
    listed = await client.v1.events.list_async(params={"type": "customer.*"})
    assert [e.id for e in listed.data] == [event.id]
    assert receiver.rejected == []


async def test_non_2xx_answers_are_retried(
    factory: Factory, receiver: Receiver, control: httpx.AsyncClient
) -> None:
    receiver.fail_next = 2
    await factory.customer()
    event = (await eventually(lambda: receiver.of_type("customer.created")))[0]

    rows = await _rows_until(control, event.id, lambda rows: len(rows) == 3)
    assert [(r["attempt"], r["status_code"], r["outcome"]) for r in rows] == [
        (1, 503, "failed"),
        (2, 503, "failed"),
        (3, 200, "delivered"),
    ]


async def test_dropped_webhooks_are_found_by_reconciliation_and_redelivered(
    client: stripe.StripeClient,
    factory: Factory,
    receiver: Receiver,
    control: httpx.AsyncClient,
) -> None:
    await control.post("/_sandbox/switches", json={"drop_webhooks": True})
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id)
    await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})
    missed = await client.v1.events.list_async(
        params={"type": "invoice.paid", "delivery_success": False}
    )
    assert [e.data.object["id"] for e in missed.data] == [inv.id]
    rows = await _deliveries(control, missed.data[0].id)
    assert [r["outcome"] for r in rows] == ["dropped"]
    assert receiver.events == []

    await control.post("/_sandbox/switches", json={"drop_webhooks": False})
    r = await control.post(f"/_sandbox/events/{missed.data[0].id}/redeliver")
    assert r.json()["endpoints"] == 1
    got = await eventually(lambda: receiver.of_type("invoice.paid"))
    assert got[0].id == missed.data[0].id
    await _rows_until(control, got[0].id, lambda rows: rows[-1]["outcome"] == "delivered")
    still = await client.v1.events.list_async(
        params={"type": "invoice.paid", "delivery_success": False}
    )
    assert still.data == []


async def test_forged_stale_and_unsigned_replays_are_rejected_by_construct_event(
    factory: Factory, receiver: Receiver, control: httpx.AsyncClient
) -> None:
    await factory.customer()
    event = (await eventually(lambda: receiver.of_type("customer.created")))[0]
    for body in (
        {"secret": "whsec_forged"},
        {"timestamp": int(time.time()) - 3600},
        {"unsigned": True},
    ):
        await control.post(f"/_sandbox/events/{event.id}/redeliver", json=body)
    rows = await _rows_until(
        control, event.id, lambda rows: sum(r["status_code"] == 400 for r in rows) >= 3
    )
    assert sorted({r["status_code"] for r in rows}) == [200, 400]
    assert sum(r["status_code"] == 200 for r in rows) == 1
    assert len(receiver.of_type("customer.created")) == 1


async def test_duplicate_and_held_deliveries(
    factory: Factory, receiver: Receiver, control: httpx.AsyncClient
) -> None:
    await control.post("/_sandbox/switches", json={"duplicate_webhooks": True})
    cus = await factory.customer()
    dup = await eventually(lambda: len(receiver.of_type("customer.created")) == 2)
    assert dup
    assert len({e.id for e in receiver.of_type("customer.created")}) == 1

    await control.post(
        "/_sandbox/switches", json={"duplicate_webhooks": False, "hold_webhooks": True}
    )
    receiver.clear()
    inv = await factory.open_invoice(cus.id)  # invoice.created ... invoice.finalized, held
    assert receiver.events == []
    await control.post("/_sandbox/switches", json={"hold_webhooks": False})
    r = await control.post("/_sandbox/webhooks/release", json={"order": "reverse"})
    assert r.json()["released"] >= 4
    finalized = await eventually(lambda: receiver.of_type("invoice.finalized"))
    assert finalized[0].data.object.id == inv.id
    await eventually(lambda: receiver.of_type("invoice.created"))


async def test_webhook_endpoints_api_signs_with_its_own_secret(
    client: stripe.StripeClient,
    factory: Factory,
    receiver: Receiver,
    receiver_session: tuple[Receiver, str],
    control: httpx.AsyncClient,
) -> None:
    _, url = receiver_session
    ep = await client.v1.webhook_endpoints.create_async(
        params={"url": url, "enabled_events": ["customer.created"]}
    )
    try:
        assert ep.secret.startswith("whsec_")
        assert ep.secret != WEBHOOK_SECRET
        listed = await client.v1.webhook_endpoints.list_async()
        assert ep.id in {e.id for e in listed.data}
        await factory.customer()
        # the default endpoint's delivery verifies; the new endpoint's (other secret) does not
        event = (await eventually(lambda: receiver.of_type("customer.created")))[0]
        wanted = {("we_sandbox_default", 200), (ep.id, 400)}
        await _rows_until(
            control,
            event.id,
            lambda rows: {(r["endpoint"], r["status_code"]) for r in rows} >= wanted,
        )
        assert receiver.rejected
    finally:
        await client.v1.webhook_endpoints.delete_async(ep.id)
