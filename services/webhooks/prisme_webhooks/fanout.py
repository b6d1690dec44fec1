"""Every event of the platform, once: a message per subscribed endpoint, and alerts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC

import asyncpg
from prisme_chassis import jobs
from prisme_chassis.clock import now
from prisme_events import Event, JobDead

from . import alert_rules, domain, repository
from .alerting import raise_alert
from .context import ALERT_MAIL, DIGEST_MAIL, Context
from .delivery import enqueue_deliveries

log = logging.getLogger(__name__)

#: Our own jobs whose death raises no alert: an alert e-mail that could not be sent would
#: raise an alert e-mailed the same failing way, and so on; a dead delivery is the integrator's
#: endpoint failing, which ``webhook.endpoint_disabled`` reports.
QUIET_KINDS = frozenset({ALERT_MAIL.name, DIGEST_MAIL.name, "webhooks.deliver"})


async def on_events(
    conn: asyncpg.Connection,
    ctx: Context,
    events: Sequence[Event],
    *,
    worker: jobs.JobWorker | None = None,
) -> None:
    """A fetched batch of events in the consumer's transaction (inbox, then this, then the
    acks), set-based: one read of the endpoints, one insert of the messages with their
    destinations, one of the delivery jobs. With ``worker`` (this process's), the delivery
    jobs are handed to it at commit (:meth:`prisme_chassis.jobs.JobWorker.enqueue_here`)."""
    integrators = [e for e in events if domain.for_integrators(e.subject)]
    endpoints = await repository.subscribed_endpoints(conn) if integrators else []
    messages: list[repository.NewMessage] = []
    pairs = []
    moment = now()
    for event in integrators:
        targets = [e["id"] for e in endpoints if domain.matches(e["event_types"], event.subject)]
        if not targets:
            continue
        messages.append(
            repository.NewMessage(
                message_id=event.event_id,
                event_type=event.subject,
                payload=domain.thin_payload(event),
                occurred_at=event.occurred_at.astimezone(UTC),
            )
        )
        pairs += [(event.event_id, target) for target in targets]
    if messages:
        fresh = await repository.insert_fanout(conn, messages, pairs, moment)
        await enqueue_deliveries(conn, ctx, fresh, "scheduled", worker=worker)
    for event in events:
        await _alert(conn, ctx, event)


async def _alert(conn: asyncpg.Connection, ctx: Context, event: Event) -> None:
    facts = event.model_dump(mode="json")
    if isinstance(event, JobDead) and event.service == "webhooks" and event.kind in QUIET_KINDS:
        # logged, counted (prisme_jobs_dead) and listed on GET /v1/jobs?state=dead instead
        log.error("%s job %s is dead: %s", event.kind, event.job_id, event.error)
        return
    rule = alert_rules.rule_for(event.subject, facts)
    if rule is not None:
        await raise_alert(conn, ctx, rule, f"event:{event.event_id}", facts)
