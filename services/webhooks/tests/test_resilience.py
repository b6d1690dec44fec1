"""R6: a receiver down for a while, and a kill -9 of the dispatcher mid-burst, lose nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import nats
from prisme_chassis.bus import ensure_stream
from prisme_events import InvoicePaid, cloudevent_headers, encode, stream_for
from prisme_testing.polling import eventually
from prisme_testing.runner import ServiceProcess

from .conftest import Receiver, subscribe


def paid() -> InvoicePaid:
    return InvoicePaid(
        version=1,
        client_id=uuid.uuid4(),
        invoice_id=uuid.uuid4(),
        number="F1",
        amount="1.00",
        method="card",
    )


async def publish_many(nats_url: str, events: list[InvoicePaid]) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream_for("invoice.paid"))
        for event in events:
            await js.publish(event.subject, encode(event), headers=cloudevent_headers(event))
    finally:
        await nc.close()


async def test_a_receiver_down_for_a_while_gets_everything_once_back(
    webhooks, nats_url: str
) -> None:
    receiver = Receiver()  # not started: connections are refused
    async with webhooks(retry_schedule="0.3,0.5,1,1,1,1,1,1,1,1,1,1") as client:
        endpoint = await subscribe(client, receiver.url, "invoice.*")
        events = [paid() for _ in range(20)]
        await publish_many(nats_url, events)

        async def tried() -> bool:
            r = await client.get(f"/v1/endpoints/{endpoint['id']}/messages", params={"limit": 100})
            items = r.json()["items"]
            return len(items) == 20 and all(m["attempts"] >= 1 for m in items)

        await eventually(tried, 60, "every message tried against the dead receiver")
        await receiver.start()
        try:
            await eventually(
                lambda: set(receiver.ids()) >= {str(e.event_id) for e in events},
                60,
                "every message delivered once the receiver is back",
            )

            async def recorded() -> list[dict[str, Any]]:
                r = await client.get(f"/v1/messages/{events[0].event_id}/attempts")
                found = list(r.json()["items"])
                return found if found and found[-1]["status_code"] == 200 else []

            attempts = await eventually(recorded, 30, "the successful attempt recorded")
            assert attempts[0]["status_code"] is None
            assert "ConnectError" in attempts[0]["error"]
        finally:
            await receiver.stop()


async def test_kill_9_of_the_dispatcher_mid_burst_loses_nothing(
    webhooks_settings: Callable[..., Awaitable[Any]],
    receiver: Receiver,
    nats_url: str,
    auth_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    settings = await webhooks_settings()
    env = {
        "PRISME_ENV": "test",
        "PRISME_NATS_URL": nats_url,
        "PRISME_JWT_PUBLIC_KEY": settings.jwt_public_key,
        "PRISME_DATA_DIR": str(settings.data_dir),
        "PRISME_WEBHOOKS_DATABASE_URL": settings.database_url,
        "PRISME_SMTP_PORT": str(settings.smtp_port),
        "PRISME_WEBHOOKS_RETRY_SCHEDULE": "0.2,0.5,1,1,1,1,1",
    }
    receiver.delay = 0.01  # a realistic receiver, so the kill lands mid-burst
    proc = ServiceProcess("prisme_webhooks", env, log_file=tmp_path / "webhooks.log")
    proc.start()
    try:
        await proc.wait_ready(60)
        async with httpx.AsyncClient(base_url=proc.url, headers=auth_headers) as client:
            await subscribe(client, receiver.url, "invoice.*")
        events = [paid() for _ in range(300)]
        await publish_many(nats_url, events)
        await eventually(lambda: len(receiver.got) >= 30, 60, "the burst under way")
        proc.kill()
        seen_at_kill = len(set(receiver.ids()))
        assert seen_at_kill < len(events), "the kill came too late to prove anything"
        proc.start()
        await proc.wait_ready(60)
        await eventually(
            lambda: set(receiver.ids()) >= {str(e.event_id) for e in events},
            120,
            "every message delivered after the restart",
        )
    finally:
        proc.kill()


async def test_a_hanging_endpoint_never_delays_the_others(
    webhooks, receiver: Receiver, nats_url: str
) -> None:
    hanging = Receiver(hold=asyncio.Event())
    await hanging.start()
    try:
        async with webhooks(endpoint_concurrency=2, timeout_seconds=120) as client:
            await subscribe(client, hanging.url, "invoice.*")
            await subscribe(client, receiver.url, "invoice.*")
            events = [paid() for _ in range(30)]
            await publish_many(nats_url, events)
            await eventually(
                lambda: set(receiver.ids()) >= {str(e.event_id) for e in events},
                60,
                "every message at the healthy endpoint while the other hangs",
            )
            assert len(hanging.got) <= 2  # it holds at most its share of the worker
            hanging.hold.set()  # type: ignore[union-attr]
            await eventually(
                lambda: set(hanging.ids()) >= {str(e.event_id) for e in events},
                60,
                "the hanging endpoint served once it answers",
            )
    finally:
        if hanging.hold is not None:
            hanging.hold.set()
        await hanging.stop()
