"""Dead letters of every service become alerts (one per dead letter, acked after commit).

Each service keeps its dead letters in its own stream (``DEADLETTERS_<SERVICE>``); the watcher has
one durable consumer on each (``webhooks-deadletters``, declared in prisme_events.CONSUMERS and
created by the provisioning identity). Which service and consumer a letter belongs to is read
from its stored subject, never from a header.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import asyncpg
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prisme_chassis.app import provisioning
from prisme_chassis.bus import ensure_consumer, ensure_stream
from prisme_chassis.settings import ServiceSettings
from prisme_events import DEAD_LETTER_WATCHER, SERVICES, dead_letter_stream

from . import alert_rules
from .alerting import raise_alert
from .context import Context

log = logging.getLogger(__name__)

DURABLE = DEAD_LETTER_WATCHER


async def provision_watchers(settings: ServiceSettings, js: JetStreamContext) -> None:
    async with provisioning(settings, js) as pjs:
        for owner in SERVICES:
            spec = dead_letter_stream(owner)
            await ensure_stream(pjs, spec, settings.stream_replicas)
            await ensure_consumer(
                pjs,
                stream=spec.name,
                durable=DURABLE,
                filter_subjects=list(spec.subjects),
                # alerts fail only when the database is down: retried for a long time
                max_deliver=10_000,
            )


def facts_of(msg: Msg) -> dict[str, str]:
    headers = msg.headers or {}
    _, service, durable, subject = (msg.subject.split(".", 3) + ["?"] * 4)[:4]
    return {
        "service": service,
        "durable": durable,
        "subject": subject,
        "error": headers.get("prisme-dl-error", "")[:500],
        "delivered": headers.get("prisme-dl-delivered", "?"),
    }


async def watch_dead_letters(ctx: Context, pool: asyncpg.Pool, js: JetStreamContext) -> None:
    await provision_watchers(ctx.settings, js)
    rule = alert_rules.RULES["deadletter"]
    subs = {
        owner: await js.pull_subscribe_bind(durable=DURABLE, stream=dead_letter_stream(owner).name)
        for owner in SERVICES
    }
    while True:
        for owner, psub in subs.items():
            try:
                msgs = await psub.fetch(20, timeout=0.2)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            for msg in msgs:
                key = f"deadletter:{owner}:{msg.metadata.sequence.stream}"
                async with pool.acquire() as proxy, proxy.transaction():
                    await raise_alert(
                        cast(asyncpg.Connection, proxy), ctx, rule, key, facts_of(msg)
                    )
                await msg.ack()
        await asyncio.sleep(0)
