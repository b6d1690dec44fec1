"""Every event of the platform, once: a message per subscribed endpoint, and alerts."""

from __future__ import annotations

from datetime import UTC

import asyncpg
from prisme_chassis.clock import now
from prisme_events import Event

from . import alert_rules, domain, repository
from .alerting import raise_alert
from .context import Context
from .delivery import enqueue_delivery


async def on_event(conn: asyncpg.Connection, ctx: Context, event: Event) -> None:
    """In the consumer's transaction (inbox, then this, then the ack)."""
    endpoints = await repository.subscribed_endpoints(conn)
    targets = [e["id"] for e in endpoints if domain.matches(e["event_types"], event.subject)]
    if targets:
        await repository.insert_message(
            conn,
            message_id=event.event_id,
            event_type=event.subject,
            payload=domain.thin_payload(event),
            occurred_at=event.occurred_at.astimezone(UTC),
            now=now(),
        )
        fresh = await repository.insert_destinations(conn, event.event_id, targets, now())
        await enqueue_delivery(conn, ctx, event.event_id, fresh, "scheduled")
    facts = event.model_dump(mode="json")
    rule = alert_rules.rule_for(event.subject, facts)
    if rule is not None:
        await raise_alert(conn, ctx, rule, f"event:{event.event_id}", facts)
