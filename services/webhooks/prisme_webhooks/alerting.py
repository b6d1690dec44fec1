"""Alerts to people: raised once per cause, e-mailed when S1 says someone reads them.

An alert is a row (unique per cause) and a mail job with the alert's id as idempotency key,
written in the same transaction as what raised it: it is sent once, even across restarts. The
job re-reads the clock until the alert's delivery time (the next opening, or an on-call window
for an urgent one), so a moved clock is followed. A daily digest at opening lists the alerts
nobody acknowledged yet.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import Any, cast

import asyncpg
from prisme_chassis import jobs, support_hours
from prisme_chassis.calendar import REUNION
from prisme_chassis.clock import now
from prisme_chassis.mail import OutgoingMail, message_id

from . import alert_rules, repository
from .context import ALERT_MAIL, DIGEST_MAIL, Context

log = logging.getLogger(__name__)


async def raise_alert(
    conn: asyncpg.Connection,
    ctx: Context,
    rule: alert_rules.Rule,
    dedup_key: str,
    facts: Mapping[str, Any],
) -> uuid.UUID | None:
    """Record the alert and its mail job (in the caller's transaction); once per cause."""
    raised_at = now()
    deliver_at = support_hours.delivery_time(raised_at, urgent=rule.urgent)
    alert_id = await repository.insert_alert(
        conn,
        dedup_key=dedup_key,
        rule=rule.name,
        urgent=rule.urgent,
        audience=rule.audience,
        subject=alert_rules.subject_line(rule, raised_at),
        body=alert_rules.body_text(rule, facts, raised_at),
        raised_at=raised_at,
        deliver_at=deliver_at,
    )
    if alert_id is None:
        return None
    wait = (deliver_at - raised_at).total_seconds()
    await jobs.enqueue(
        conn,
        ALERT_MAIL,
        f"alert:{alert_id}",
        {"alert_id": str(alert_id)},
        delay=min(wait, ctx.settings.alert_recheck_seconds),
    )
    log.info("alert %s (%s) raised, to be e-mailed at %s", alert_id, rule.name, deliver_at)
    return alert_id


def _recipients(ctx: Context, audience: str) -> list[str]:
    return ctx.settings.technicians if audience == "technicians" else ctx.settings.accountants


def mail_handler(ctx: Context, pool: asyncpg.Pool) -> jobs.Handler:
    async def send_alert(job: jobs.Job) -> jobs.Outcome:
        alert_id = uuid.UUID(job.payload["alert_id"])
        async with pool.acquire() as proxy:
            alert = await repository.get_alert(cast(asyncpg.Connection, proxy), alert_id)
        if alert is None or alert["sent_at"] is not None:
            return jobs.Done()
        moment = now()
        if moment < alert["deliver_at"]:
            # held (S1): look again later; a clock travel is seen at the next look
            remaining = (alert["deliver_at"] - moment).total_seconds()
            return jobs.Proceed(after=min(remaining, ctx.settings.alert_recheck_seconds))
        # Message-ID stable per alert: a resend after a crash between the send and its
        # record is recognisable as the same message
        await ctx.mailer.send(
            OutgoingMail(
                sender=ctx.settings.mail_from,
                to=_recipients(ctx, alert["audience"]),
                subject=alert["subject"],
                body=alert["body"],
                message_id=message_id(f"alert-{alert_id}"),
                date=moment,
            )
        )

        async def record(conn: asyncpg.Connection) -> None:
            await repository.mark_alert_sent(conn, alert_id, moment)

        return jobs.Done(apply=record)

    return send_alert


def digest_handler(ctx: Context, pool: asyncpg.Pool) -> jobs.Handler:
    async def send_digest(job: jobs.Job) -> None:
        moment = now()
        for audience in ("technicians", "accountants"):
            async with pool.acquire() as proxy:
                alerts = await repository.open_alerts(
                    cast(asyncpg.Connection, proxy), audience, moment
                )
            if not alerts:
                continue
            subject, body = alert_rules.digest_text([dict(a) for a in alerts], moment)
            await ctx.mailer.send(
                OutgoingMail(
                    sender=ctx.settings.mail_from,
                    to=_recipients(ctx, audience),
                    subject=subject,
                    body=body,
                    message_id=message_id(f"digest-{job.payload['day']}-{audience}"),
                    date=moment,
                )
            )

    return send_digest


async def digest_scheduler(ctx: Context, pool: asyncpg.Pool) -> None:
    """Once per business day, at the first open moment, enqueue that day's digest."""
    while True:
        moment = now()
        if support_hours.is_open(moment):
            day = moment.astimezone(REUNION).date()
            async with pool.acquire() as proxy, proxy.transaction():
                conn = cast(asyncpg.Connection, proxy)
                if await repository.claim_digest(conn, day, moment):
                    await jobs.enqueue(conn, DIGEST_MAIL, f"digest:{day}", {"day": str(day)})
        await asyncio.sleep(min(ctx.settings.alert_recheck_seconds, 60.0))
