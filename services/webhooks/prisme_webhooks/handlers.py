"""Bus subscriptions: one durable consumer per stream of the platform, the same set-based
handler for every event (JetStream consumers belong to one stream; together they cover all of
them): a fetched batch is fanned out in a few statements (P8)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast

import asyncpg
from prisme_chassis.bus import BatchHandler, Subscription
from prisme_events import Event, event_types

from .context import WebhooksRuntime
from .domain import event_types_by_stream
from .fanout import on_events


async def _handle(rt: WebhooksRuntime, conn: asyncpg.Connection, events: Sequence[Any]) -> None:
    # the deliveries go straight to this process's job worker once the batch commits (P8)
    await on_events(conn, rt.context, cast(Sequence[Event], events), worker=rt.job_worker)


def durable_for(stream: str) -> str:
    return f"webhooks-{stream.lower()}"


def subscriptions(rt: WebhooksRuntime) -> Sequence[Subscription]:
    handle: BatchHandler = functools.partial(_handle, rt)
    return [
        Subscription(
            durable=durable_for(stream),
            stream=stream,
            batch_handlers=dict.fromkeys(classes, handle),
            # P8: a burst is fanned out 500 events per transaction, two transactions at once
            # (split by aggregate; deliveries promise no order across aggregates anyway)
            batch=500,
            partitions=2,
        )
        for stream, classes in sorted(event_types_by_stream(event_types()).items())
    ]
