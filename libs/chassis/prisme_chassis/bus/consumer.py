"""Durable pull consumers with an inbox, bounded retries and dead letters.

For each fetched batch the consumer opens one transaction; every message runs in its own
savepoint: its event id is inserted into ``inbox`` (a conflict means a duplicate: acked, no
second effect), then its handler runs. After the commit, successful and duplicate messages are
acked; failed ones are nak'ed with back-off.

Every failure is bounded, whatever its kind: a handler error, an "infrastructure" error (the
database unreachable, a deadlock, a timeout), a batch whose commit failed. A message that fails
on its ``max_deliver``-th delivery goes to the service's dead letters with its error; one that
comes back more often than that without ever being settled (the process crashed while handling
it) is dead-lettered without running again. JetStream's own ``max_deliver`` is one more than
the subscription's, so the server never drops a message the chassis has not dead-lettered.
After an infrastructure failure of a whole batch the consumer fetches nothing until the
database answers again, so an outage costs each message one delivery, not all of them.

A message is decoded by its NATS subject, which the server's permissions tie to its producer;
one whose ``ce-type`` header names another type is refused (dead-lettered, never applied).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prisme_events import Event, UnknownEventError, dead_letter_stream, decode

from .. import after_commit, metrics
from .deadletter import DeadLetter, NotADeadLetter, dead_letter_subject, load_dead_letter

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("prisme.bus")

Handler = Callable[[asyncpg.Connection, Any], Awaitable[None]]
BatchHandler = Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[None]]

INFRA_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    TimeoutError,
)


@dataclass(frozen=True)
class Subscription:
    """One durable consumer of a service: which events it takes and what it does with them."""

    durable: str
    stream: str
    handlers: Mapping[type[Event], Handler] = field(default_factory=dict)
    # Set-based handlers: one call with every new event of that type in the fetched batch
    # (e.g. 10,000 contract.ended at year-end); on failure they are retried one event at a time.
    batch_handlers: Mapping[type[Event], BatchHandler] = field(default_factory=dict)
    max_deliver: int = 6
    backoff: Sequence[float] = (0.5, 2.0, 10.0, 30.0, 60.0)
    batch: int = 100
    ack_wait: float = 30.0
    max_ack_pending: int = 2000
    #: A fetched batch is split by aggregate (the ``ce-subject`` header) into this many parts,
    #: each handled in its own transaction on its own connection, concurrently: one
    #: aggregate's events stay in stream order (same part, and the next batch starts once
    #: this one is settled); events of different aggregates may commit in any order, so a
    #: handler must not rely on another aggregate's events having been applied first.
    partitions: int = 1

    def __post_init__(self) -> None:
        both = set(self.handlers) & set(self.batch_handlers)
        if both:
            raise ValueError(f"{self.durable}: two handlers for {sorted(c.subject for c in both)}")
        if not self.handlers and not self.batch_handlers:
            raise ValueError(f"{self.durable}: no handler")

    @functools.cached_property
    def event_classes(self) -> frozenset[type[Event]]:
        return frozenset(self.handlers) | frozenset(self.batch_handlers)

    @property
    def filter_subjects(self) -> list[str]:
        return sorted(cls.subject for cls in self.event_classes)

    async def handle_one(self, conn: asyncpg.Connection, event: Event) -> None:
        handler = self.handlers.get(type(event))
        if handler is not None:
            await handler(conn, event)
        else:
            await self.batch_handlers[type(event)](conn, [event])

    def delay(self, delivered: int) -> float:
        return self.backoff[min(max(delivered - 1, 0), len(self.backoff) - 1)]


class _HandlerFailed(Exception):
    """A handler raised in the fast path: redo the batch one savepoint per message."""


class PoisonMessage(Exception):
    """A message that can never succeed (unknown type, invalid payload)."""


@dataclass
class _Outcome:
    msg: Msg
    status: str  # ok | duplicate | error | infra | poison (→ dead_letter)
    error: BaseException | None = None
    event: Event | None = None


def _delivered(msg: Msg) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except (AttributeError, TypeError, ValueError):
        return 1


@dataclass
class Consumer:
    """Runs one :class:`Subscription` against a pool and a JetStream context."""

    sub: Subscription
    pool: asyncpg.Pool
    js: JetStreamContext
    service: str  # whose dead letters: deadletter.<service>.<durable>.<subject>
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def stop(self) -> None:
        """Finish the batch in flight, then return from :meth:`run`."""
        self._stopping.set()

    async def run(self) -> None:
        psub = None
        # Caught up: wait for the next message with a pull of one, which the server answers
        # the moment it arrives. A pull of a whole batch would be held until the batch fills
        # or expires, adding up to that long to every event's latency on a quiet stream.
        caught_up = True
        inflight: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                if inflight is not None and inflight.done():
                    inflight.result()  # re-raise what the handling raised (cancellation)
                    inflight = None
                try:
                    if psub is None:
                        psub = await self.js.pull_subscribe_bind(
                            durable=self.sub.durable, stream=self.sub.stream
                        )
                    if caught_up:
                        msgs = await psub.fetch(1, timeout=1.0)
                    else:
                        msgs = await psub.fetch(self.sub.batch, timeout=0.05)
                except (nats.errors.TimeoutError, TimeoutError):
                    caught_up = True
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - NATS outage: wait and try again
                    log.warning("fetch on %s failed, retrying: %s", self.sub.durable, exc)
                    await asyncio.sleep(0.5)
                    continue
                caught_up = len(msgs) < self.sub.batch and not caught_up
                if msgs:
                    # The next fetch runs while this batch is handled; the next batch is handled
                    # only once this one is settled (stream order per aggregate).
                    if inflight is not None:
                        await inflight
                    inflight = asyncio.create_task(self.process(msgs))
        except BaseException:
            if inflight is not None and not inflight.done():
                inflight.cancel()  # cancelled mid-batch: what is not acked is redelivered
            raise
        if inflight is not None:
            await inflight
        if psub is not None:
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    async def process(self, msgs: Sequence[Msg]) -> None:
        """Handle a batch; dead-letter first what came back too often without being settled."""
        fresh: list[Msg] = []
        for msg in msgs:
            delivered = _delivered(msg)
            if delivered > self.sub.max_deliver:
                error = RuntimeError(
                    f"delivered {delivered} times without being settled (the consumer stopped"
                    " or crashed while handling it, or it ran past ack_wait)"
                )
                await self._settle(_Outcome(msg, "poison", error))
            else:
                fresh.append(msg)
        if not fresh:
            return
        parts = self.sub.partitions
        if parts <= 1 or len(fresh) == 1:
            await self._process(fresh)
            return
        groups: list[list[Msg]] = [[] for _ in range(parts)]
        for msg in fresh:
            key = (msg.headers or {}).get("ce-subject", "")
            groups[zlib.crc32(key.encode()) % parts].append(msg)
        await asyncio.gather(*(self._process(group) for group in groups if group))

    async def _process(self, msgs: Sequence[Msg]) -> None:
        """Handle a batch in one transaction; acks only after the commit.

        Fast path: one inbox insert for the whole batch, then each handler in turn. If a
        handler fails, that transaction is rolled back and the batch is run again with one
        savepoint per message, so the failure stays confined to its own message.
        """
        try:
            try:
                outcomes = await self._batch(msgs)
            except _HandlerFailed:
                outcomes = await self._each(msgs)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the commit (or the pool) failed: nothing was applied
            log.warning("batch on %s not committed, will be redelivered: %r", self.sub.durable, exc)
            for msg in msgs:
                await self._settle(_Outcome(msg, "infra", exc))
            await self._wait_for_database()
            return
        for out in outcomes:
            await self._settle(out)

    async def _wait_for_database(self) -> None:
        """Fetch nothing more until the database answers (each probe bounded in time)."""
        delay = 0.25
        while not self._stopping.is_set():
            try:
                async with self.pool.acquire(timeout=5.0) as conn:
                    await conn.fetchval("SELECT 1", timeout=5.0)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - still down: probe again
                log.info("%s waits for the database: %r", self.sub.durable, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _batch(self, msgs: Sequence[Msg]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        decoded: list[tuple[Msg, Event]] = []
        for msg in msgs:
            try:
                decoded.append((msg, self._decode(msg)))
            except PoisonMessage as exc:
                outcomes.append(_Outcome(msg, "poison", exc))
        # jobs enqueued by the handlers may be handed to this process's worker, once committed
        with after_commit.scope() as hooks:
            await self._batch_transaction(decoded, outcomes)
        for hook in hooks:  # committed: a failing hook must not keep the batch from its acks
            try:
                hook()
            except Exception:
                log.exception("an after-commit hook failed")
        return outcomes

    async def _batch_transaction(
        self, decoded: Sequence[tuple[Msg, Event]], outcomes: list[_Outcome]
    ) -> None:
        async with self.pool.acquire() as proxy, proxy.transaction():
            conn = cast(asyncpg.Connection, proxy)
            fresh = {
                r["event_id"]
                for r in await conn.fetch(
                    "INSERT INTO inbox (consumer, event_id, subject)"
                    " SELECT $1, e, s FROM unnest($2::uuid[], $3::text[]) AS t(e, s)"
                    " ON CONFLICT DO NOTHING RETURNING event_id",
                    self.sub.durable,
                    [e.event_id for _, e in decoded],
                    [e.subject for _, e in decoded],
                )
            }
            grouped: dict[type[Event], list[tuple[Msg, Event]]] = {}
            for msg, event in decoded:
                if event.event_id not in fresh:
                    outcomes.append(_Outcome(msg, "duplicate", event=event))
                    continue
                fresh.discard(event.event_id)  # the same event twice in one batch: once
                if type(event) in self.sub.batch_handlers:
                    grouped.setdefault(type(event), []).append((msg, event))
                    continue
                with self._span(msg) as span:
                    try:
                        await self.sub.handlers[type(event)](conn, event)
                    except INFRA_ERRORS:
                        raise
                    except Exception as exc:
                        span.record_exception(exc)
                        raise _HandlerFailed from exc
                outcomes.append(_Outcome(msg, "ok", event=event))
            for cls, items in grouped.items():
                with self._batch_span(cls.subject, [m for m, _ in items]) as span:
                    try:
                        await self.sub.batch_handlers[cls](conn, [e for _, e in items])
                    except INFRA_ERRORS:
                        raise
                    except Exception as exc:
                        span.record_exception(exc)
                        raise _HandlerFailed from exc
                outcomes += [_Outcome(m, "ok", event=e) for m, e in items]

    async def _each(self, msgs: Sequence[Msg]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        async with self.pool.acquire() as conn, conn.transaction():
            for msg in msgs:
                outcomes.append(await self._one(cast(asyncpg.Connection, conn), msg))
        return outcomes

    def _batch_span(self, subject: str, msgs: Sequence[Msg]) -> Any:
        links = [
            trace.Link(
                trace.get_current_span(propagate.extract(m.headers or {})).get_span_context()
            )
            for m in msgs
        ]
        return _tracer.start_as_current_span(
            f"{subject} receive",
            kind=SpanKind.CONSUMER,
            links=[link for link in links if link.context.is_valid],
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": subject,
                "messaging.consumer.group.name": self.sub.durable,
                "messaging.batch.message_count": len(msgs),
            },
        )

    def _span(self, msg: Msg) -> Any:
        headers = msg.headers or {}
        return _tracer.start_as_current_span(
            f"{msg.subject} receive",
            context=propagate.extract(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": self.sub.durable,
                "messaging.message.id": headers.get("ce-id", ""),
                "messaging.nats.delivery_count": _delivered(msg),
            },
        )

    async def _one(self, conn: asyncpg.Connection, msg: Msg) -> _Outcome:
        """One message in its own savepoint (the slow path, and replays)."""
        with self._span(msg) as span:
            try:
                event = self._decode(msg)
            except PoisonMessage as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                return _Outcome(msg, "poison", exc)
            try:
                async with conn.transaction():
                    inserted = await conn.fetchval(
                        "INSERT INTO inbox (consumer, event_id, subject) VALUES ($1, $2, $3)"
                        " ON CONFLICT DO NOTHING RETURNING true",
                        self.sub.durable,
                        event.event_id,
                        event.subject,
                    )
                    if not inserted:
                        return _Outcome(msg, "duplicate", event=event)
                    await self.sub.handle_one(conn, event)
            except INFRA_ERRORS as exc:
                span.set_status(Status(StatusCode.ERROR, repr(exc)))
                raise
            except Exception as exc:  # noqa: BLE001 - a handler failure is retried, then dead-lettered
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, repr(exc)))
                return _Outcome(msg, "error", exc, event)
            return _Outcome(msg, "ok", event=event)

    def _decode(self, msg: Msg) -> Event:
        subject = msg.subject
        ce_type = (msg.headers or {}).get("ce-type")
        if ce_type is not None and ce_type != subject:
            raise PoisonMessage(f"subject {subject} and ce-type {ce_type} differ; refused")
        try:
            event = decode(subject, msg.data)
        except UnknownEventError as exc:
            raise PoisonMessage(f"unknown event type {subject}") from exc
        except ValueError as exc:
            raise PoisonMessage(f"invalid {subject} payload: {exc}") from exc
        if type(event) not in self.sub.event_classes:
            raise PoisonMessage(f"{self.sub.durable} has no handler for {subject}")
        return event

    async def _settle(self, out: _Outcome) -> None:
        msg, delivered = out.msg, _delivered(out.msg)
        subject = msg.subject
        try:
            if out.status in ("ok", "duplicate"):
                await msg.ack()
            elif out.status == "poison" or delivered >= self.sub.max_deliver:
                await self.dead_letter(msg, out.error, delivered)
                await msg.ack()
                metrics.DEAD_LETTERS.labels(durable=self.sub.durable, subject=subject).inc()
                out.status = "dead_letter"
            else:
                log.warning(
                    "%s failed on %s (delivery %d), retrying: %r",
                    self.sub.durable,
                    subject,
                    delivered,
                    out.error,
                )
                await msg.nak(delay=self.sub.delay(delivered))
        except Exception as exc:  # noqa: BLE001 - ack lost: redelivery + inbox make it harmless
            log.warning("could not settle %s on %s: %s", subject, self.sub.durable, exc)
        metrics.EVENTS_CONSUMED.labels(
            durable=self.sub.durable, subject=subject, outcome=out.status
        ).inc()

    async def dead_letter(self, msg: Msg, error: BaseException | None, delivered: int) -> None:
        headers = dict(msg.headers or {})
        headers.pop("Nats-Msg-Id", None)
        headers = {k: v for k, v in headers.items() if not k.startswith("prisme-dl-")}
        headers.update(
            {
                "prisme-dl-stream": self.sub.stream,
                "prisme-dl-error": repr(error)[:2000],
                "prisme-dl-delivered": str(delivered),
            }
        )
        log.error(
            "dead-lettering %s on %s after %d deliveries: %r",
            msg.subject,
            self.sub.durable,
            delivered,
            error,
        )
        await self.js.publish(
            dead_letter_subject(self.service, self.sub.durable, msg.subject),
            msg.data,
            headers=headers,
            stream=dead_letter_stream(self.service).name,
        )

    async def replay(
        self,
        dl_seq: int,
        then: Callable[[asyncpg.Connection, DeadLetter], Awaitable[None]] | None = None,
    ) -> None:
        """Run a dead-lettered message through this consumer again; on success remove it.

        The letter is the one stored in this service's dead-letter stream, and its consumer
        the one named by its stored subject (which only this service may publish under).
        ``then`` runs in the replay's transaction after the handler succeeded (the audit row
        of who asked for it commits with the effect, or neither does).
        """
        letter = await load_dead_letter(self.js, self.service, dl_seq)
        if letter.durable != self.sub.durable:
            raise NotADeadLetter(f"dead letter {dl_seq} belongs to {letter.durable}")
        fake = _ReplayMsg(letter.subject, letter.data, letter.headers)
        async with self.pool.acquire() as conn, conn.transaction():
            out = await self._one(cast(asyncpg.Connection, conn), cast(Msg, fake))
            if out.status == "error":
                raise RuntimeError(f"replay failed: {out.error!r}") from out.error
            if out.status == "poison":
                raise RuntimeError(f"cannot replay: {out.error}")
            if then is not None:
                await then(cast(asyncpg.Connection, conn), letter)
        await self.js.delete_msg(dead_letter_stream(self.service).name, dl_seq)


@dataclass
class _ReplayMsg:
    subject: str
    data: bytes
    headers: dict[str, str]
    metadata: Any = None
