"""Explicit provisioning of streams and durable pull consumers.

``js.pull_subscribe`` silently keeps the configuration of an existing durable, so the chassis
creates or updates streams and consumers itself at start-up and checks the result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

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
from prisme_events import DEAD_LETTER_STREAM, StreamSpec

log = logging.getLogger(__name__)

DUPLICATE_WINDOW_S = 600.0  # JetStream de-duplication by Nats-Msg-Id (= event id)


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
    """Create the stream, or update it to the declared configuration."""
    config = stream_config(spec, replicas)
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(config)
        return
    current = info.config
    if (
        sorted(current.subjects or []) != sorted(config.subjects or [])
        or current.duplicate_window != config.duplicate_window
        or current.max_age != config.max_age
    ):
        await js.update_stream(config)


async def ensure_dead_letter_stream(js: JetStreamContext, replicas: int = 1) -> None:
    await ensure_stream(js, DEAD_LETTER_STREAM, replicas)


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
    """Create or update a durable pull consumer and verify the server holds our configuration.

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
    info = await js.add_consumer(stream, config)
    got = info.config
    if sorted(got.filter_subjects or [got.filter_subject or ""]) != sorted(filter_subjects) or (
        got.ack_wait != ack_wait
        or got.max_ack_pending != max_ack_pending
        or got.max_deliver != max_deliver
    ):
        # An older server answered create with the old config: delete and create anew.
        log.warning("consumer %s on %s had another configuration; recreating", durable, stream)
        await js.delete_consumer(stream, durable)
        await js.add_consumer(stream, config)
