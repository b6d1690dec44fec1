"""One delivery attempt: a chassis job per (message, endpoint), run outside any transaction.

The job's outcome carries the writes that go with it (the attempt record, the destination's
state, the endpoint's failure streak), applied by the job worker in the transaction that
records the outcome. ``webhook-id`` is the message id (the CloudEvent id) on every attempt, so
receivers de-duplicate; the timestamp and signature are fresh per attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import cast

import asyncpg
import httpx
from prisme_chassis import audit, jobs
from prisme_chassis.bus import enqueue as enqueue_event
from prisme_chassis.bus import next_version
from prisme_chassis.clock import now
from prisme_events import WebhookEndpointDisabled

from . import domain, repository, signing
from .context import Context

log = logging.getLogger(__name__)


async def enqueue_delivery(
    conn: asyncpg.Connection,
    ctx: Context,
    message_id: uuid.UUID,
    endpoint_ids: list[uuid.UUID],
    trigger: str,
) -> None:
    """Queue one delivery job per endpoint (in the caller's transaction)."""
    # the key names the delivery: the same event seen twice makes one job per endpoint;
    # a resend or a recovery is a new delivery of the same message (same webhook-id)
    suffix = "" if trigger == "scheduled" else f":{trigger}:{uuid.uuid4()}"
    await jobs.enqueue_many(
        conn,
        ctx.deliver,
        [
            jobs.NewJob(
                key=f"deliver:{message_id}:{endpoint_id}{suffix}",
                payload={
                    "message_id": str(message_id),
                    "endpoint_id": str(endpoint_id),
                    "trigger": trigger,
                },
            )
            for endpoint_id in endpoint_ids
        ],
    )


def active_secrets(
    ctx: Context, row: asyncpg.Record, endpoint_id: uuid.UUID, at: datetime
) -> list[str]:
    """The current secret, and the previous one during the 24 h after a rotation."""
    context = str(endpoint_id)
    found = [ctx.keyring.open_text(row["secret_sealed"], context)]
    expires = row["previous_expires_at"]
    if row["previous_sealed"] is not None and expires is not None and expires > at:
        found.append(ctx.keyring.open_text(row["previous_sealed"], context))
    return found


async def _post(
    ctx: Context, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int | None, str, str | None, str | None]:
    """(status, first KiB of the answer, Retry-After, error) — never raises for the network."""
    try:
        async with asyncio.timeout(ctx.settings.timeout_seconds):
            async with ctx.client.stream("POST", url, content=body, headers=headers) as response:
                received = b""
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) >= domain.EXCERPT_BYTES:
                        break
                return (
                    response.status_code,
                    domain.excerpt(received),
                    response.headers.get("retry-after"),
                    None,
                )
    except TimeoutError:
        return None, "", None, f"no answer within {ctx.settings.timeout_seconds:g} s"
    except httpx.HTTPError as exc:
        return None, "", None, f"{type(exc).__name__}: {exc}"[:500]


def handler(ctx: Context, pool: asyncpg.Pool) -> jobs.Handler:
    async def deliver(job: jobs.Job) -> jobs.Outcome:
        message_id = uuid.UUID(job.payload["message_id"])
        endpoint_id = uuid.UUID(job.payload["endpoint_id"])
        trigger = str(job.payload.get("trigger", "scheduled"))
        async with pool.acquire() as proxy:
            target = await repository.delivery_target(
                cast(asyncpg.Connection, proxy), message_id, endpoint_id
            )
        if target is None:  # the endpoint was deleted
            return jobs.Done()
        if not target["enabled"]:

            async def skip(conn: asyncpg.Connection) -> None:
                await repository.fail_destination(conn, message_id, endpoint_id, now())

            return jobs.Done(apply=skip)  # recorded as failed; a recovery sends it later
        if not ctx.try_acquire(endpoint_id):
            # this endpoint already has its share of the worker: give the run back
            return jobs.Retry("endpoint at its concurrency limit", after=0.5, counts=False)
        try:
            started = now()
            body = json.dumps(target["payload"], separators=(",", ":")).encode()
            headers = signing.headers(
                active_secrets(ctx, target, endpoint_id, started),
                str(message_id),
                int(started.timestamp()),
                body,
            )
            clock = time.perf_counter()
            status, excerpt, retry_after, error = await _post(ctx, target["url"], body, headers)
            latency_ms = round((time.perf_counter() - clock) * 1000)
        finally:
            ctx.release(endpoint_id)
        return _outcome(
            ctx,
            job,
            message_id,
            endpoint_id,
            trigger,
            started,
            status,
            excerpt,
            domain.parse_retry_after(retry_after, started),
            error,
            latency_ms,
        )

    return deliver


def _outcome(
    ctx: Context,
    job: jobs.Job,
    message_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    trigger: str,
    at: datetime,
    status: int | None,
    excerpt: str,
    retry_after: float | None,
    error: str | None,
    latency_ms: int,
) -> jobs.Outcome:
    verdict = domain.verdict(status)
    delay = (
        None
        if verdict != "retry"
        else domain.next_delay(ctx.settings.retry_schedule, job.attempt, status, retry_after)
    )
    next_at = at + timedelta(seconds=delay) if delay is not None else None

    async def record(conn: asyncpg.Connection) -> None:
        destination = {"success": "success", "gone": "failed"}.get(
            verdict, "pending" if delay is not None else "failed"
        )
        await repository.record_attempt(
            conn,
            message_id=message_id,
            endpoint_id=endpoint_id,
            attempted_at=at,
            status_code=status,
            latency_ms=latency_ms,
            excerpt=excerpt,
            error=error,
            trigger=trigger,
            next_attempt_at=next_at,
            destination_status=destination,
        )
        if verdict == "success":
            await repository.clear_failing(conn, endpoint_id)
        elif verdict == "gone":
            await _disable(conn, ctx, endpoint_id, "gone", None)
        else:
            since = await repository.mark_failing(conn, endpoint_id, at)
            if at - since >= timedelta(days=ctx.settings.disable_after_days):
                await _disable(conn, ctx, endpoint_id, "failing", since)

    if verdict == "success":
        return jobs.Done(apply=record)
    if verdict == "gone":
        return jobs.Done(apply=record)  # nothing more to try: the endpoint is disabled
    reason = error or f"HTTP {status}"
    if delay is None:
        return jobs.Fail(f"{reason}; retry schedule spent", apply=record)
    return jobs.Retry(reason, after=delay, apply=record)


async def _disable(
    conn: asyncpg.Connection,
    ctx: Context,
    endpoint_id: uuid.UUID,
    reason: str,
    failing_since: datetime | None,
) -> None:
    if not await repository.disable_endpoint(conn, endpoint_id, reason, now()):
        return
    event = WebhookEndpointDisabled(
        endpoint_id=endpoint_id,
        reason="gone" if reason == "gone" else "failing",
        failing_since=failing_since,
        occurred_at=now(),
        version=await next_version(conn, "endpoint", endpoint_id),
    )
    # the technicians' alert comes back through the consumer, like every other event's
    await enqueue_event(conn, event)
    # O3: the delivery worker's decision, in the transaction that disables the endpoint
    await audit.record(
        conn,
        audit.Actor.system("webhook-delivery"),
        "endpoint.disabled",
        target_type="endpoint",
        target_id=endpoint_id,
        reason=reason,
        detail={"failing_since": failing_since},
    )
    log.warning("endpoint %s disabled (%s)", endpoint_id, reason)
