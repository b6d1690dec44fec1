"""Explicit provisioning of streams and durable pull consumers, and the check of what is there.

``js.pull_subscribe`` silently keeps the configuration of an existing durable, so the chassis
creates or updates streams and consumers itself at start-up and checks the result.

A service's own NATS user may not create, update or delete streams or consumers (DESIGN §7;
prisme_localinfra.nats_auth): provisioning runs with the separate provisioning identity when the
service is given ``PRISME_NATS_PROVISION_URL`` (:func:`provision_service` over that connection,
closed right after), then the service checks with its own credentials that everything is in
place (``INFO`` calls only). Without a provisioning URL the service provisions over its own
connection, which works on an open server (tests) and, on a locked-down one, only if everything
is already in place: otherwise it stops with :class:`ProvisioningError`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError
from prisme_events import CONSUMERS, STREAMS, StreamSpec, consumers_of, dead_letter_stream

from .consumer import Subscription

log = logging.getLogger(__name__)

T = TypeVar("T")
DUPLICATE_WINDOW_S = 600.0  # JetStream de-duplication by Nats-Msg-Id (= event id)


class ProvisioningError(RuntimeError):
    """A stream or consumer is missing or differs, and this identity may not fix it."""


def stream_config(spec: StreamSpec, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        discard=DiscardPolicy.OLD,
        max_age=30 * 24 * 3600.0,
    )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, replicas: int = 1) -> None:
    """Create the stream, or update it to the declared configuration (nothing if it matches)."""
    config = stream_config(spec, replicas)
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await _change(js.add_stream(config), f"create stream {spec.name}")
        return
    current = info.config
    if (
        sorted(current.subjects or []) != sorted(config.subjects or [])
        or current.duplicate_window != config.duplicate_window
        or current.max_age != config.max_age
    ):
        await _change(js.update_stream(config), f"update stream {spec.name}")


async def ensure_consumer(
    js: JetStreamContext,
    *,
    stream: str,
    durable: str,
    filter_subjects: Sequence[str],
    max_deliver: int,
    ack_wait: float = 30.0,
    max_ack_pending: int = 1000,
) -> None:
    """Create or update a durable pull consumer (nothing if the server holds our configuration).

    ``max_deliver`` is the subscription's bound plus one: the chassis dead-letters a message at
    its last counted delivery, and one delivered once more than that (its consumer crashed
    while handling it) as soon as it is fetched, so the server never gives up on a message the
    chassis has not dead-lettered.
    """
    config = ConsumerConfig(
        name=durable,
        durable_name=durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        max_deliver=max_deliver,
        max_ack_pending=max_ack_pending,
        filter_subjects=list(filter_subjects),
    )

    def matches(got: ConsumerConfig) -> bool:
        return (
            sorted(got.filter_subjects or [got.filter_subject or ""]) == sorted(filter_subjects)
            and got.ack_wait == ack_wait
            and got.max_ack_pending == max_ack_pending
            and got.max_deliver == max_deliver
        )

    try:
        if matches((await js.consumer_info(stream, durable)).config):
            return
    except NotFoundError:
        pass
    info = await _change(js.add_consumer(stream, config), f"create consumer {stream}/{durable}")
    if not matches(info.config):
        raise ProvisioningError(f"consumer {stream}/{durable} did not take its configuration")


async def _change(call: Awaitable[T], what: str) -> T:
    """Await a create/update call; a permissions refusal becomes a clear ProvisioningError."""
    try:
        return await call
    except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
        raise ProvisioningError(
            f"cannot {what}: this NATS identity may not (give PRISME_NATS_PROVISION_URL, the"
            " provisioning credentials, or provision the platform first)"
        ) from exc


def declared_consumer(service: str, sub: Subscription) -> None:
    """A catalogue service may run only the consumers its NATS permissions were cut for."""
    catalogued = {c.owner for c in CONSUMERS} | {s.owner for s in STREAMS}
    if service not in catalogued:
        return  # not a platform service (the demo service of the tests)
    if not any(c.durable == sub.durable and c.stream == sub.stream for c in consumers_of(service)):
        raise ProvisioningError(
            f"{service} consumer {sub.stream}/{sub.durable} is not in prisme_events.CONSUMERS:"
            " NATS would refuse its fetches and acks"
        )


async def provision_service(
    js: JetStreamContext,
    service: str,
    own: StreamSpec | None,
    subs: Sequence[Subscription],
    replicas: int = 1,
) -> None:
    """The service's stream, its dead-letter stream, the streams it reads and its consumers."""
    if own is not None:
        await ensure_stream(js, own, replicas)
    await ensure_stream(js, dead_letter_stream(service), replicas)
    by_name = {s.name: s for s in (*STREAMS, *([own] if own else []))}
    for sub in subs:
        declared_consumer(service, sub)
        await ensure_stream(js, by_name[sub.stream], replicas)
        await ensure_consumer(
            js,
            stream=sub.stream,
            durable=sub.durable,
            filter_subjects=sub.filter_subjects,
            max_deliver=sub.max_deliver + 1,
            ack_wait=sub.ack_wait,
            max_ack_pending=sub.max_ack_pending,
        )
