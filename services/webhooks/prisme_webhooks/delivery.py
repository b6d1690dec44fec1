"""Delivery attempts: chassis jobs per (message, endpoint), sent in batches outside any
transaction.

Jobs are grouped by endpoint (``group_key``) and claimed up to ``delivery_batch`` at a time
(P8: one claim, one read and one recording transaction per batch, not per delivery). Every
POST of a batch runs at once under the endpoint's limit (``endpoint_concurrency``); each job
keeps its own outcome (success, retry on the schedule or ``Retry-After``, dead), and the writes
that go with them (the attempt records, the destinations' states, the endpoint's failure
streak) are applied set-based by the job worker in the transaction that records the outcomes.
``webhook-id`` is the message id (the CloudEvent id) on every attempt, so receivers
de-duplicate; the timestamp and signature are fresh per attempt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import asyncpg
from prisme_chassis import audit, jobs
from prisme_chassis.bus import enqueue as enqueue_event
from prisme_chassis.bus import next_version
from prisme_chassis.clock import now
from prisme_events import WebhookEndpointDisabled

from . import domain, repository, signing
from .context import Context
from .ssrf import Answer

log = logging.getLogger(__name__)


async def enqueue_delivery(
    conn: asyncpg.Connection,
    ctx: Context,
    message_id: uuid.UUID,
    endpoint_ids: list[uuid.UUID],
    trigger: str,
) -> None:
    """Queue one delivery job per endpoint (in the caller's transaction)."""
    await enqueue_deliveries(conn, ctx, [(message_id, e) for e in endpoint_ids], trigger)


async def enqueue_deliveries(
    conn: asyncpg.Connection,
    ctx: Context,
    pairs: Sequence[tuple[uuid.UUID, uuid.UUID]],
    trigger: str,
    *,
    worker: jobs.JobWorker | None = None,
) -> None:
    """Queue one delivery job per (message, endpoint), in one statement (the caller's
    transaction). The job's group is its endpoint: its deliveries are claimed together.
    With ``worker``, the jobs it has room for are leased to it and handed over at commit."""
    # the key names the delivery: the same event seen twice makes one job per endpoint;
    # a resend or a recovery is a new delivery of the same message (same webhook-id)
    suffix = "" if trigger == "scheduled" else f":{trigger}:{uuid.uuid4()}"
    enqueue = jobs.enqueue_many if worker is None else worker.enqueue_here
    await enqueue(
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
                group_key=str(endpoint_id),
            )
            for message_id, endpoint_id in pairs
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


@dataclass(frozen=True)
class Attempt:
    """One POST of a batch, as recorded."""

    job_id: int
    message_id: uuid.UUID
    endpoint_id: uuid.UUID
    trigger: str
    at: datetime
    answer: Answer
    latency_ms: int
    verdict: domain.Verdict
    next_at: datetime | None
    destination: str


def handler(ctx: Context, pool: asyncpg.Pool) -> jobs.BatchHandler:
    async def deliver(batch: Sequence[jobs.Job]) -> jobs.BatchOutcome:
        wanted = [
            (job, uuid.UUID(job.payload["message_id"]), uuid.UUID(job.payload["endpoint_id"]))
            for job in batch
        ]
        async with pool.acquire() as proxy:
            targets = await repository.delivery_targets(
                cast(asyncpg.Connection, proxy), [(m, e) for _, m, e in wanted]
            )
        outcomes: dict[int, jobs.Outcome] = {}
        skipped: list[tuple[int, uuid.UUID, uuid.UUID]] = []
        sends: list[asyncio.Task[Attempt]] = []
        secrets: dict[uuid.UUID, list[str]] = {}
        bodies: dict[uuid.UUID, bytes] = {}
        started = now()
        for job, message_id, endpoint_id in wanted:
            target = targets.get((message_id, endpoint_id))
            if target is None:  # the endpoint was deleted
                outcomes[job.id] = jobs.Done()
            elif not target["enabled"]:
                # recorded as failed; a recovery sends it later
                outcomes[job.id] = jobs.Done()
                skipped.append((job.id, message_id, endpoint_id))
            else:
                if endpoint_id not in secrets:
                    secrets[endpoint_id] = active_secrets(ctx, target, endpoint_id, started)
                body = bodies.get(message_id)
                if body is None:
                    body = bodies[message_id] = json.dumps(
                        target["payload"], separators=(",", ":")
                    ).encode()
                sends.append(
                    asyncio.ensure_future(
                        _send(ctx, job, message_id, endpoint_id, target["url"], body, secrets)
                    )
                )
        attempts = list(await asyncio.gather(*sends)) if sends else []
        for attempt in attempts:
            outcomes[attempt.job_id] = _outcome(attempt)

        async def record(conn: asyncpg.Connection, held: frozenset[int]) -> None:
            await _record(conn, ctx, [a for a in attempts if a.job_id in held])
            mine = [(m, e) for job_id, m, e in skipped if job_id in held]
            if mine:
                await repository.fail_destinations(conn, mine, now())

        return jobs.BatchOutcome(outcomes, apply=record)

    return deliver


async def _send(
    ctx: Context,
    job: jobs.Job,
    message_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    url: str,
    body: bytes,
    secrets: dict[uuid.UUID, list[str]],
) -> Attempt:
    trigger = str(job.payload.get("trigger", "scheduled"))
    async with ctx.slots(endpoint_id):  # this endpoint's share of the connections
        started = now()
        headers = signing.headers(
            secrets[endpoint_id], str(message_id), int(started.timestamp()), body
        )
        clock = time.perf_counter()
        answer = await ctx.client.post(url, body, headers)
        latency_ms = round((time.perf_counter() - clock) * 1000)
    verdict = domain.verdict(answer.status)
    retry_after = domain.parse_retry_after(answer.retry_after, started)
    delay = (
        None
        if verdict != "retry"
        else domain.next_delay(ctx.settings.retry_schedule, job.attempt, answer.status, retry_after)
    )
    destination = {"success": "success", "gone": "failed"}.get(
        verdict, "pending" if delay is not None else "failed"
    )
    return Attempt(
        job_id=job.id,
        message_id=message_id,
        endpoint_id=endpoint_id,
        trigger=trigger,
        at=started,
        answer=answer,
        latency_ms=latency_ms,
        verdict=verdict,
        next_at=started + timedelta(seconds=delay) if delay is not None else None,
        destination=destination,
    )


def _outcome(attempt: Attempt) -> jobs.Outcome:
    if attempt.verdict in ("success", "gone"):  # gone: nothing more to try, endpoint disabled
        return jobs.Done()
    reason = attempt.answer.error or f"HTTP {attempt.answer.status}"
    if attempt.next_at is None:
        return jobs.Fail(f"{reason}; retry schedule spent")
    return jobs.Retry(reason, after=(attempt.next_at - attempt.at).total_seconds())


async def _record(conn: asyncpg.Connection, ctx: Context, attempts: Sequence[Attempt]) -> None:
    """The attempts, the destinations' states and each endpoint's failure streak, set-based
    (one statement while every endpoint answers)."""
    if not attempts:
        return
    by_endpoint: dict[uuid.UUID, list[Attempt]] = {}
    for a in sorted(attempts, key=lambda a: a.at):
        by_endpoint.setdefault(a.endpoint_id, []).append(a)
    cleared: list[uuid.UUID] = []
    failing: dict[uuid.UUID, list[Attempt]] = {}
    gone: list[uuid.UUID] = []
    for endpoint_id, mine in by_endpoint.items():
        if any(a.verdict == "gone" for a in mine):
            gone.append(endpoint_id)
            continue
        last_success = max((i for i, a in enumerate(mine) if a.verdict == "success"), default=None)
        if last_success is not None:
            cleared.append(endpoint_id)
        # the streak goes on from the first failure after the last success
        failures = mine[(last_success + 1 if last_success is not None else 0) :]
        if failures:
            failing[endpoint_id] = failures
    await repository.record_attempts(
        conn,
        [
            repository.AttemptRow(
                message_id=a.message_id,
                endpoint_id=a.endpoint_id,
                attempted_at=a.at,
                status_code=a.answer.status,
                latency_ms=a.latency_ms,
                excerpt=a.answer.excerpt,
                error=a.answer.error,
                trigger=a.trigger,
                next_attempt_at=a.next_at,
                destination_status=a.destination,
            )
            for a in attempts
        ],
        cleared,
    )
    for endpoint_id in gone:
        await _disable(conn, ctx, endpoint_id, "gone", None)
    for endpoint_id, failures in failing.items():
        since = await repository.mark_failing(conn, endpoint_id, failures[0].at)
        if failures[-1].at - since >= timedelta(days=ctx.settings.disable_after_days):
            await _disable(conn, ctx, endpoint_id, "failing", since)


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
