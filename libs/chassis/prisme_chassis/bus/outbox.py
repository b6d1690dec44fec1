"""Transactional outbox: ``enqueue`` in the business transaction, ``OutboxRelay`` publishes.

The relay is woken by LISTEN/NOTIFY on its own connection and sweeps periodically as a
fallback; it claims rows with ``FOR UPDATE SKIP LOCKED`` (so several replicas can run), publishes
a batch with asynchronous acks and ``Nats-Msg-Id`` = event id (JetStream drops duplicates of a
re-published row), and marks the rows sent once every ack came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from nats.js import JetStreamContext
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from prisme_events import Event, cloudevent_headers, encode

from .. import metrics

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("prisme.bus")
CHANNEL = "prisme_outbox"


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
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.sweep_interval)
                self._wake.clear()
        finally:
            if self._listener is not None and not self._listener.is_closed():
                with contextlib.suppress(Exception):
                    await self._listener.close()

    async def publish_batch(self) -> int:
        """Claim, publish and mark one batch; returns how many rows were published."""
        async with self.pool.acquire() as conn, conn.transaction():
            # Losing this commit in a database crash only re-publishes the rows; JetStream's
            # de-duplication (Nats-Msg-Id) and the consumers' inboxes absorb that, so the
            # relay need not wait for the WAL flush.
            await conn.execute("SET LOCAL synchronous_commit = off")
            rows = await conn.fetch(
                "SELECT seq, subject, headers, payload FROM outbox WHERE sent_at IS NULL"
                " ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch_size,
            )
            if not rows:
                return 0
            futures = [
                await self.js.publish_async(r["subject"], r["payload"], headers=dict(r["headers"]))
                for r in rows
            ]
            await asyncio.wait_for(asyncio.gather(*futures), timeout=10.0)
            await conn.execute(
                "UPDATE outbox SET sent_at = clock_timestamp() WHERE seq = ANY($1::bigint[])",
                [r["seq"] for r in rows],
            )
        for r in rows:
            metrics.EVENTS_PUBLISHED.labels(subject=r["subject"]).inc()
        return len(rows)

    async def _observe(self) -> None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT count(*) AS n, extract(epoch FROM clock_timestamp() - min(created_at)) AS lag"
                " FROM outbox WHERE sent_at IS NULL"
            )
        assert row is not None
        metrics.OUTBOX_PENDING.set(row["n"])
        metrics.OUTBOX_LAG.set(float(row["lag"] or 0.0))

    async def _purge(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute(
                "DELETE FROM outbox WHERE sent_at < clock_timestamp() - make_interval(hours => $1)",
                self.retention_hours,
            )
