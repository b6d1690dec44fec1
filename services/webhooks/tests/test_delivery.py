"""Deliveries against a real local receiver: signatures, filters, retries, 410, rotation."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date

from prisme_events import BackupMissed, InvoicePaid
from prisme_testing.events import collect_events, publish_event
from prisme_testing.polling import eventually
from standardwebhooks import Webhook

from .conftest import Receiver, subscribe


def invoice_paid() -> InvoicePaid:
    return InvoicePaid(
        version=1,
        client_id=uuid.uuid4(),
        invoice_id=uuid.uuid4(),
        number="F2026-0001",
        amount="120.00",
        method="card",
    )


async def test_retries_until_success_with_the_same_webhook_id(
    webhooks, receiver: Receiver, nats_url: str
) -> None:
    receiver.answers = [500, 500, 200]
    async with webhooks(retry_schedule="0.5,1.0,5") as client:
        endpoint = await subscribe(client, receiver.url, "invoice.*")
        event = invoice_paid()
        await publish_event(nats_url, event)
        await eventually(lambda: len(receiver.got) >= 3, 60, "three attempts")
        assert receiver.ids() == [str(event.event_id)] * 3
        gaps = [b.at - a.at for a, b in zip(receiver.got, receiver.got[1:], strict=False)]
        # the configured schedule (lower bounds only: the machine may be slow, never fast)
        assert gaps[0] >= 0.45, gaps
        assert gaps[1] >= 0.95, gaps
        secret = endpoint["secret"]
        for got in receiver.got:
            Webhook(secret).verify(got.body, got.headers)

        async def attempts() -> list[dict[str, object]]:
            r = await client.get(f"/v1/messages/{event.event_id}/attempts")
            found = list(r.json()["items"])
            return found if len(found) == 3 else []

        recorded = await eventually(attempts, 30, "three recorded attempts")
        assert [a["status_code"] for a in recorded] == [500, 500, 200]
        assert recorded[0]["response_excerpt"] == "réponse 500"
        assert recorded[0]["next_attempt_at"] is not None
        assert recorded[2]["next_attempt_at"] is None
        # a page of one attempt at a time gives the same three, in order, each once
        paged, cursor = [], None
        while True:
            params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
            page = (
                await client.get(f"/v1/messages/{event.event_id}/attempts", params=params)
            ).json()
            paged += [a["id"] for a in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                break
        assert paged == [a["id"] for a in recorded]
        messages = (await client.get(f"/v1/endpoints/{endpoint['id']}/messages")).json()
        assert [(m["status"], m["attempts"]) for m in messages["items"]] == [("success", 3)]
        await asyncio.sleep(1.5)
        assert len(receiver.got) == 3  # nothing after the success


async def test_filters_and_thin_payload(webhooks, receiver: Receiver, nats_url: str) -> None:
    other = Receiver()
    await other.start()
    try:
        async with webhooks() as client:
            await subscribe(client, receiver.url, "backup.*")
            await subscribe(client, other.url, "invoice.paid")
            missed = BackupMissed(
                version=1,
                plan_id=uuid.uuid4(),
                client_id=uuid.uuid4(),
                day=date(2026, 12, 4),
                reason="agent muet",
            )
            paid = invoice_paid()
            await publish_event(nats_url, missed)
            await publish_event(nats_url, paid)
            await eventually(lambda: receiver.got and other.got, 30, "both deliveries")
            await asyncio.sleep(0.5)
            assert receiver.ids() == [str(missed.event_id)]
            assert other.ids() == [str(paid.event_id)]
            body = json.loads(receiver.got[0].body)
            assert body["type"] == "backup.missed"
            assert body["timestamp"].startswith(missed.occurred_at.isoformat()[:19])
            assert body["data"]["plan_id"] == str(missed.plan_id)
            assert body["data"]["aggregate"] == {"id": str(missed.plan_id), "version": 1}
    finally:
        await other.stop()


async def test_410_disables_the_endpoint_and_says_so(
    webhooks, receiver: Receiver, nats_url: str, mail
) -> None:
    receiver.answers = [410]
    async with webhooks() as client:
        endpoint = await subscribe(client, receiver.url, "invoice.*")
        await publish_event(nats_url, invoice_paid())

        async def disabled() -> bool:
            r = await client.get(f"/v1/endpoints/{endpoint['id']}")
            return r.json()["enabled"] is False

        await eventually(disabled, 30, "endpoint disabled")
        assert (await client.get(f"/v1/endpoints/{endpoint['id']}")).json()[
            "disabled_reason"
        ] == "gone"
        # O3: the delivery worker's decision is audited with its reason
        trail = (await client.get("/v1/audit", params={"action": "endpoint.disabled"})).json()
        assert [(r["actor"], r["target_id"], r["reason"]) for r in trail["items"]] == [
            ("system:webhook-delivery", endpoint["id"], "gone")
        ]
        events = await collect_events(nats_url, "webhook.>", 1, timeout=15)
        assert [e.subject for e in events] == ["webhook.endpoint_disabled"]
        assert str(events[0].endpoint_id) == endpoint["id"]  # type: ignore[attr-defined]
        await publish_event(nats_url, invoice_paid())
        await asyncio.sleep(1.0)
        assert len(receiver.got) == 1  # nothing more is sent to a disabled endpoint


async def test_rotated_secret_signs_with_both_during_the_overlap(
    webhooks, receiver: Receiver, nats_url: str
) -> None:
    async with webhooks() as client:
        endpoint = await subscribe(client, receiver.url, "invoice.*")
        old = endpoint["secret"]
        r = await client.post(f"/v1/endpoints/{endpoint['id']}/rotate-secret")
        assert r.status_code == 200, r.text
        new = r.json()["secret"]
        assert new != old
        assert new.startswith("whsec_")
        await publish_event(nats_url, invoice_paid())
        await eventually(lambda: receiver.got, 30, "a delivery")
        got = receiver.got[0]
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        Webhook(old).verify(got.body, got.headers)
        Webhook(new).verify(got.body, got.headers)


async def test_test_message_resend_and_recover(webhooks, receiver: Receiver) -> None:
    receiver.answers = [503, 503]
    receiver.headers_for = {503: {"Retry-After": "1"}}
    async with webhooks(retry_schedule="0.2") as client:
        endpoint = await subscribe(client, receiver.url, "invoice.*")
        r = await client.post(f"/v1/endpoints/{endpoint['id']}/test")
        assert r.status_code == 202, r.text
        message_id = r.json()["message_id"]
        await eventually(lambda: len(receiver.got) >= 2, 30, "two attempts")
        # 503 with Retry-After: 1 → the receiver's delay, not the 0.2 s of the schedule
        assert receiver.got[1].at - receiver.got[0].at >= 0.95

        async def failed() -> list[dict[str, object]]:
            r = await client.get(
                f"/v1/endpoints/{endpoint['id']}/messages", params={"status": "failed"}
            )
            return list(r.json()["items"])

        await eventually(failed, 30, "the message failed once the schedule is spent")
        r = await client.post(
            f"/v1/endpoints/{endpoint['id']}/recover", json={"since": "2020-01-01T00:00:00Z"}
        )
        assert r.json()["deliveries"] == 1
        await eventually(lambda: len(receiver.got) >= 3, 30, "recovered")
        r = await client.post(f"/v1/messages/{message_id}/resend")
        assert r.status_code == 202
        await eventually(lambda: len(receiver.got) >= 4, 30, "resent")
        assert set(receiver.ids()) == {message_id}
        assert json.loads(receiver.got[0].body)["type"] == "webhook.test"
