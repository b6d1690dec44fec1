"""Dead letters of every service become alerts (one per dead letter, acked after commit)."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import asyncpg
import nats.errors
from nats.js import JetStreamContext
from prisme_chassis.bus import ensure_consumer, ensure_dead_letter_stream
from prisme_events import DEAD_LETTER_STREAM

from . import alert_rules
from .alerting import raise_alert
from .context import Context

log = logging.getLogger(__name__)

DURABLE = "webhooks-deadletters"


async def watch_dead_letters(ctx: Context, pool: asyncpg.Pool, js: JetStreamContext) -> None:
    await ensure_dead_letter_stream(js, ctx.settings.stream_replicas)
    await ensure_consumer(
        js,
        stream=DEAD_LETTER_STREAM.name,
        durable=DURABLE,
        filter_subjects=["deadletter.>"],
        max_deliver=-1,  # alerts fail only when the database is down: never give up
    )
    psub = await js.pull_subscribe_bind(durable=DURABLE, stream=DEAD_LETTER_STREAM.name)
    rule = alert_rules.RULES["deadletter"]
    while True:
        try:
            msgs = await psub.fetch(20, timeout=1.0)
        except (nats.errors.TimeoutError, TimeoutError):
            continue
        for msg in msgs:
            headers = msg.headers or {}
            facts = {
                "durable": headers.get("prisme-dl-durable", "?"),
                "subject": headers.get("prisme-dl-subject", msg.subject),
                "error": headers.get("prisme-dl-error", "")[:500],
                "delivered": headers.get("prisme-dl-delivered", "?"),
            }
            key = f"deadletter:{msg.metadata.sequence.stream}"
            async with pool.acquire() as proxy, proxy.transaction():
                await raise_alert(cast(asyncpg.Connection, proxy), ctx, rule, key, facts)
            await msg.ack()
        await asyncio.sleep(0)
