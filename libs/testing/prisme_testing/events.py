"""Publishing and reading catalogue events in tests, straight on JetStream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import nats
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from prisme_chassis.bus import ensure_stream
from prisme_events import Event, cloudevent_headers, decode, encode, stream_for


async def publish_event(nats_url: str, event: Event) -> None:
    """Publish ``event`` as its producer's relay would (CloudEvents headers, Nats-Msg-Id)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream_for(event.subject))
        await js.publish(event.subject, encode(event), headers=cloudevent_headers(event))
    finally:
        await nc.close()


async def collect_events(
    nats_url: str, subjects: str | Sequence[str], count: int, timeout: float = 10.0
) -> list[Event]:
    """Read events of ``subjects`` from the start of their stream until ``count`` arrived.

    Returns what arrived by ``timeout`` (possibly fewer: the test's assertion says so).
    """
    wanted = [subjects] if isinstance(subjects, str) else list(subjects)
    nc = await nats.connect(nats_url)
    got: list[Event] = []
    done = asyncio.Event()
    try:
        js = nc.jetstream()
        subs = []
        for subject in wanted:
            await ensure_stream(js, stream_for(subject.replace(">", "x")))

            async def on_msg(msg: Msg) -> None:
                headers = msg.headers or {}
                got.append(decode(headers.get("ce-type", msg.subject), msg.data))
                if len(got) >= count:
                    done.set()

            subs.append(
                await js.subscribe(
                    subject, cb=on_msg, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
                )
            )
        if count == 0:
            await asyncio.sleep(timeout)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout)
        for sub in subs:
            await sub.unsubscribe()
    finally:
        await nc.close()
    return got


async def drained(nats_url: str, durable: str, stream: str = "CONTRACTS") -> bool:
    """Has the consumer ``durable`` acknowledged every message of ``stream``? (Read-only look
    at JetStream: the chassis acks only after its handler's transaction committed.)"""
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)
    finally:
        await nc.close()
