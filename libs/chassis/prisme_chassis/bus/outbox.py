"""Transactional outbox: ``enqueue`` in the business transaction, ``OutboxRelay`` publishes.

The relay is woken by LISTEN/NOTIFY on its own connection and sweeps periodically as a
fallback; it claims rows with ``FOR UPDATE SKIP LOCKED`` (so several replicas can run), publishes
a batch with asynchronous acks and ``Nats-Msg-Id`` = event id (JetStream drops duplicates of a
re-published row), and marks each row sent as its ack comes back.

The bus never stalls on one row: a row whose publish fails (no stream takes its subject, its
payload is over the server's limit, a permissions violation, a rejected ack) has its attempt
counted, its error kept and its next attempt pushed back (``next_attempt_at``, exponential up
to :data:`MAX_BACKOFF_S`), while the other rows of the batch are marked sent. Rows are never
dropped: an operator sees them in ``GET /v1/outbox`` and the ``prisme_outbox_failing`` gauge.
When the connection to NATS is down, nothing is counted against the rows: they simply wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import asyncpg
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from prisme_events import Event, cloudevent_headers, encode

from .. import metrics

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("prisme.bus")
CHANNEL = "prisme_outbox"
PUBLISH_TIMEOUT_S = 10.0
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0


def backoff(attempts: int) -> float:
    """Seconds before the next attempt of a row that failed ``attempts`` times."""
    return float(min(FIRST_BACKOFF_S * 2 ** max(attempts - 1, 0), MAX_BACKOFF_S))


def _publish_span(subject: str, count: int = 1, message_id: str | None = None) -> Any:
    attributes: dict[str, Any] = {"messaging.system": "nats", "messaging.destination.name": subject}
    if message_id is not None:
        attributes["messaging.message.id"] = message_id
    if count > 1:
        attributes["messaging.batch.message_count"] = count
    return _tracer.start_as_current_span(
        f"{subject} publish", kind=SpanKind.PRODUCER, attributes=attributes
    )


def _row(event: Event, carrier: dict[str, str]) -> tuple[Any, ...]:
    headers = cloudevent_headers(event) | carrier
    return (event.event_id, event.subject, headers, encode(event))


async def enqueue(conn: asyncpg.Connection, event: Event) -> None:
    """Write ``event`` to the outbox in the caller's transaction (published after commit)."""
    if not conn.is_in_transaction():
        raise RuntimeError("enqueue() must run inside the transaction of the state change")
    carrier: dict[str, str] = {}
    with _publish_span(event.subject, message_id=str(event.event_id)):
        propagate.inject(carrier)
    await conn.execute(
        "INSERT INTO outbox (event_id, subject, headers, payload) VALUES ($1, $2, $3, $4)",
        *_row(event, carrier),
    )
    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)


async def enqueue_many(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    """Bulk form of :func:`enqueue` for set-based use cases (year-end)."""
    if not events:
        return
    if not conn.is_in_transaction():
        raise RuntimeError("enqueue_many() must run inside the transaction of the state change")
    # One "publish" span per subject for the whole batch; every event carries its context.
    carriers: dict[str, dict[str, str]] = {}
    for subject in {e.subject for e in events}:
        carrier: dict[str, str] = {}
        with _publish_span(subject, count=sum(e.subject == subject for e in events)):
            propagate.inject(carrier)
        carriers[subject] = carrier
    await conn.executemany(
        "INSERT INTO outbox (event_id, subject, headers, payload) VALUES ($1, $2, $3, $4)",
        [_row(e, carriers[e.subject]) for e in events],
    )
    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)


class OutboxRelay:
    """Publishes committed outbox rows to JetStream."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        dsn: str,
        *,
        batch_size: int = 1000,
        sweep_interval: float = 1.0,
        retention_hours: float = 24.0,
    ) -> None:
        self.pool = pool
        self.js = js
        self.dsn = dsn
        self.batch_size = batch_size
        self.sweep_interval = sweep_interval
        self.retention_hours = retention_hours
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None

    def wake(self) -> None:
        self._wake.set()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self.dsn)
            await self._listener.add_listener(CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._listener = None
            log.warning("outbox listener unavailable, sweeping only: %s", exc)

    async def run(self) -> None:
        """Publish until cancelled; survives database and NATS outages."""
        last_purge = last_observe = 0.0
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self._listen()
                try:
                    while await self.publish_batch() == self.batch_size:
                        pass
                    if loop.time() - last_observe > 1.0:  # metrics, not on every wake-up
                        await self._observe()
                        last_observe = loop.time()
                    if loop.time() - last_purge > 600:
                        await self._purge()
                        last_purge = loop.time()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - infra outage: retry after the sweep delay
                    log.warning("outbox relay will retry: %s", exc)
                # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the result of
                # a wake that lands with a cancel and so swallows the cancel (gh-86296), and
                # the loop then never stops
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.sweep_interval):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            if self._listener is not None and not self._listener.is_closed():
                with contextlib.suppress(Exception):
                    await self._listener.close()

    async def publish_batch(self) -> int:
        """Claim and publish one batch; returns how many rows were claimed.

        Each row is settled on its own: acknowledged rows are marked sent, failed rows get
        their attempt counted and are set aside until ``next_attempt_at``.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            # Losing this commit in a database crash only re-publishes the rows; JetStream's
            # de-duplication (Nats-Msg-Id) and the consumers' inboxes absorb that, so the
            # relay need not wait for the WAL flush.
            await conn.execute("SET LOCAL synchronous_commit = off")
            rows = await conn.fetch(
                "SELECT seq, subject, headers, payload FROM outbox WHERE sent_at IS NULL"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= clock_timestamp())"
                " ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch_size,
            )
            if not rows:
                return 0
            errors = await self._publish(rows)
            sent = [r["seq"] for r in rows if r["seq"] not in errors]
            if errors and not sent and not self._connected():
                # NATS is unreachable: the rows are not at fault, count nothing.
                raise ConnectionError(f"NATS unavailable: {next(iter(errors.values()))}")
            await conn.execute(
                "UPDATE outbox SET sent_at = clock_timestamp() WHERE seq = ANY($1::bigint[])",
                sent,
            )
            if errors:
                await self._set_aside(cast(asyncpg.Connection, conn), errors)
        for r in rows:
            if r["seq"] not in errors:
                metrics.EVENTS_PUBLISHED.labels(subject=r["subject"]).inc()
        return len(rows)

    def _connected(self) -> bool:
        nc = getattr(self.js, "_nc", None)
        return bool(getattr(nc, "is_connected", True))

    def _max_payload(self) -> int:
        nc = getattr(self.js, "_nc", None)
        return int(getattr(nc, "max_payload", 0) or 0)

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> dict[int, str]:
        """Publish every row; the error of each row that was not acknowledged, by seq."""
        errors: dict[int, str] = {}
        futures: dict[asyncio.Future[Any], int] = {}
        limit = self._max_payload()
        for r in rows:
            headers = dict(r["headers"])
            size = len(r["payload"]) + sum(len(k) + len(v) + 4 for k, v in headers.items())
            if limit and size > limit:
                # The server would close the connection on it: never send it.
                errors[r["seq"]] = f"message of {size} bytes exceeds the server limit of {limit}"
                continue
            try:
                future = await self.js.publish_async(r["subject"], r["payload"], headers=headers)
            except Exception as exc:  # noqa: BLE001 - this row only (an outage fails them all)
                errors[r["seq"]] = _describe(exc)
                continue
            futures[future] = r["seq"]
        if futures:
            done, pending = await asyncio.wait(futures, timeout=PUBLISH_TIMEOUT_S)
            for future in pending:
                # No answer at all: a permissions violation (the server drops the message and
                # only tells the connection) or a server too slow; retried later either way.
                future.cancel()
                errors[futures[future]] = (
                    f"no acknowledgement within {PUBLISH_TIMEOUT_S:g}s"
                    " (permissions violation or server unavailable)"
                )
            for future in done:
                failure = future.exception()
                if failure is not None:
                    errors[futures[future]] = _describe(failure)
        return errors

    async def _set_aside(self, conn: asyncpg.Connection, errors: dict[int, str]) -> None:
        seqs = list(errors)
        await conn.executemany(
            "UPDATE outbox SET attempts = attempts + 1, last_error = $2,"
            " next_attempt_at = clock_timestamp() + make_interval(secs =>"
            " LEAST($3 * power(2, attempts), $4))"
            " WHERE seq = $1",
            [(seq, errors[seq][:2000], FIRST_BACKOFF_S, MAX_BACKOFF_S) for seq in seqs],
        )
        for seq in seqs:
            log.warning("outbox row %d not published, set aside: %s", seq, errors[seq])
        metrics.OUTBOX_PUBLISH_FAILURES.inc(len(seqs))

    async def _observe(self) -> None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT count(*) AS n, count(*) FILTER (WHERE attempts > 0) AS failing,"
                " extract(epoch FROM clock_timestamp() - min(created_at) FILTER (WHERE attempts = 0))"
                " AS lag"
                " FROM outbox WHERE sent_at IS NULL"
            )
        assert row is not None
        metrics.OUTBOX_PENDING.set(row["n"])
        metrics.OUTBOX_FAILING.set(row["failing"])
        metrics.OUTBOX_LAG.set(float(row["lag"] or 0.0))

    async def _purge(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE sent_at < clock_timestamp() - make_interval(hours => $1)",
                self.retention_hours,
            )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, nats.errors.NoRespondersError | nats.js.errors.NoStreamResponseError):
        return "no stream takes this subject (no responders)"
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class OutboxRow:
    """An unsent outbox row, as the operational listing shows it."""

    seq: int
    event_id: uuid.UUID
    subject: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime


async def list_unsent(
    pool: asyncpg.Pool, *, failing_only: bool = True, limit: int = 100, after: int = 0
) -> list[OutboxRow]:
    """Unsent rows in publishing order (by default only those whose publish failed)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT seq, event_id, subject, attempts, last_error, next_attempt_at, created_at"
            " FROM outbox WHERE sent_at IS NULL AND seq > $1 AND (attempts > 0 OR NOT $2)"
            " ORDER BY seq LIMIT $3",
            after,
            failing_only,
            limit,
        )
    return [OutboxRow(**dict(r)) for r in rows]
