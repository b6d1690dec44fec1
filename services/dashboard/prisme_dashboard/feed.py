"""The live event feed (Événements): every domain stream read straight from JetStream.

The dashboard holds no consumer (prisme_localinfra.nats_auth ``STREAM_READERS``): it reads each
stream message by message (``STREAM.MSG.GET`` with ``next_by_subj``) from a :class:`Cursor` of
stream sequences, and hears the streams' subjects on core NATS only to know when to read again.
The cursor is the server-sent event's ``id``, so a browser that reconnects with
``Last-Event-ID`` resumes exactly where it stopped: nothing missed, nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from prisme_events import STREAMS, event_types

#: the streams the feed follows, in the order the filters list them
FEED_STREAMS: tuple[str, ...] = tuple(spec.name for spec in STREAMS)
#: a resumed cursor further behind than this jumps to the last ``RESUME_WINDOW`` messages
MAX_BACKLOG = 1000
RESUME_WINDOW = 200
#: messages read per stream and pass (a pass repeats until a stream is caught up)
PASS_LIMIT = 200
#: after a wake-up that found nothing stored yet, read again this often, this many times
WAKE_RETRY_SECONDS = 0.02
WAKE_RETRIES = 50

#: What an operator reads for each event type (French), the subject kept beside it.
EVENT_LABELS: dict[str, str] = {
    "contract.activated": "Contrat activé",
    "contract.amended": "Avenant au contrat",
    "contract.ended": "Contrat terminé",
    "contract.cancelled": "Contrat annulé",
    "contract.eligibility_changed": "Éligibilité modifiée",
    "client.corrected": "Fiche du cabinet corrigée",
    "intervention.recorded": "Intervention enregistrée",
    "invoice.issued": "Facture émise",
    "invoice.paid": "Facture payée",
    "invoice.payment_failed": "Paiement échoué",
    "invoice.overdue": "Facture en retard",
    "credit_note.issued": "Avoir émis",
    "payment.refunded": "Paiement remboursé",
    "licence.provisioned": "Licence attribuée",
    "licence.revoked": "Licence retirée",
    "licence.failed": "Échec de licence",
    "video.link_created": "Lien vidéo créé",
    "video.link_revoked": "Lien vidéo révoqué",
    "backup.snapshot_completed": "Sauvegarde réussie",
    "backup.missed": "Sauvegarde manquée",
    "backup.check_failed": "Contrôle de sauvegarde échoué",
    "backup.purged": "Sauvegardes purgées",
    "webhook.endpoint_disabled": "Point de terminaison webhook désactivé",
}

STREAM_LABELS: dict[str, str] = {
    "CONTRACTS": "Contrats et cabinets",
    "BILLING": "Facturation",
    "LICENCES": "Licences",
    "VIDEOS": "Vidéos",
    "BACKUPS": "Sauvegardes",
    "WEBHOOKS": "Webhooks",
}


def subject_filters() -> list[tuple[str, str]]:
    """The subject filters offered (value, French label): each area, then each event type."""
    offered: list[tuple[str, str]] = []
    for spec in STREAMS:
        for pattern in spec.subjects:
            area = pattern.removesuffix(".>")
            offered.append((pattern, f"{STREAM_LABELS.get(spec.name, spec.name)} — {area}.*"))
    for subject in event_types():
        offered.append((subject, f"{EVENT_LABELS.get(subject, subject)} ({subject})"))
    return offered


_ALLOWED_FILTERS = frozenset(value for value, _ in subject_filters())


def clean_filter(subject: str | None) -> str | None:
    """A filter the feed knows, or None (every subject): nothing else reaches the server."""
    return subject if subject in _ALLOWED_FILTERS else None


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching (``*`` one token, ``>`` the rest)."""
    want, have = pattern.split("."), subject.split(".")
    for i, part in enumerate(want):
        if part == ">":
            return len(have) > i
        if i >= len(have) or (part != "*" and part != have[i]):
            return False
    return len(want) == len(have)


def streams_for(subject: str | None) -> tuple[str, ...]:
    """The streams that may carry ``subject`` (every stream without a filter)."""
    if subject is None:
        return FEED_STREAMS
    head = subject.split(".", 1)[0]
    return tuple(
        spec.name
        for spec in STREAMS
        if any(pattern.split(".", 1)[0] == head for pattern in spec.subjects)
    )


_CURSOR_PART = re.compile(r"^([A-Z_]{1,32}):(\d{1,18})$")


@dataclass
class Cursor:
    """The last sequence read from each stream; the SSE ``id``, e.g. ``CONTRACTS:12,BILLING:4``."""

    positions: dict[str, int] = field(default_factory=dict)

    def format(self) -> str:
        return ",".join(f"{name}:{self.positions[name]}" for name in sorted(self.positions))

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """A cursor from a ``Last-Event-ID`` or ``?from=``; None if it is not one of ours."""
        if not text or len(text) > 400:
            return None
        positions: dict[str, int] = {}
        for part in text.split(","):
            match = _CURSOR_PART.match(part)
            if match is None or match.group(1) not in FEED_STREAMS:
                return None
            positions[match.group(1)] = int(match.group(2))
        return cls(positions)

    def copy(self) -> Cursor:
        return Cursor(dict(self.positions))


@dataclass(frozen=True)
class FeedEvent:
    stream: str
    seq: int
    subject: str
    event_id: str
    source: str
    aggregate: str
    practice: uuid.UUID | None
    at: datetime | None
    payload: dict[str, Any]

    @property
    def label(self) -> str:
        return EVENT_LABELS.get(self.subject, self.subject)


def _practice_of(payload: dict[str, Any]) -> uuid.UUID | None:
    """The practice an event is about: ``client_id``, or ``client.client_id`` (client.*)."""
    value = payload.get("client_id")
    nested = payload.get("client")
    if value is None and isinstance(nested, dict):
        value = nested.get("client_id")
    if not isinstance(value, str):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def to_event(stream: str, raw: RawStreamMsg) -> FeedEvent:
    headers = dict(raw.headers or {})
    try:
        decoded = json.loads(raw.data or b"{}")
    except ValueError:
        decoded = {}
    payload = decoded if isinstance(decoded, dict) else {"valeur": decoded}
    assert raw.seq is not None
    return FeedEvent(
        stream=stream,
        seq=raw.seq,
        subject=headers.get("ce-type") or raw.subject or "",
        event_id=headers.get("ce-id", ""),
        source=headers.get("ce-source", ""),
        aggregate=headers.get("ce-subject", ""),
        practice=_practice_of(payload),
        at=_time(headers.get("ce-time")),
        payload=payload,
    )


def wanted(event: FeedEvent, subject: str | None, practice: uuid.UUID | None) -> bool:
    if subject is not None and not subject_matches(subject, event.subject):
        return False
    return practice is None or event.practice == practice


async def head(js: JetStreamContext, streams: Iterable[str] = FEED_STREAMS) -> Cursor:
    """Where each stream ends now (0 for a stream not created yet)."""

    async def last(name: str) -> int:
        try:
            return int((await js.stream_info(name)).state.last_seq)
        except NotFoundError:
            return 0

    names = list(streams)
    ends = await asyncio.gather(*(last(name) for name in names))
    return Cursor(dict(zip(names, ends, strict=True)))


async def _get(js: JetStreamContext, stream: str, seq: int) -> RawStreamMsg | None:
    try:
        return await js.get_msg(stream, seq)
    except NotFoundError:
        return None  # deleted (or purged) in between


async def recent(
    js: JetStreamContext,
    *,
    subject: str | None = None,
    practice: uuid.UUID | None = None,
    limit: int = 50,
    window: int | None = None,
) -> tuple[list[FeedEvent], Cursor]:
    """The newest events among the last ``window`` of each stream, newest first, and the cursor
    the live feed continues from (the streams' ends when they were read: no gap, no repeat).

    ``window`` is ``limit`` unless a practice filter needs a wider look (4×): each message is
    one request to the stream, so the page's cost grows with it."""
    if window is None:
        window = limit * 4 if practice is not None else limit
    streams = streams_for(subject)
    cursor = await head(js, streams)
    reads = [
        (name, seq)
        for name, last in cursor.positions.items()
        for seq in range(max(1, last - window + 1), last + 1)
    ]
    raws = await asyncio.gather(*(_get(js, name, seq) for name, seq in reads))
    events = [
        event
        for (name, _), raw in zip(reads, raws, strict=True)
        if raw is not None
        for event in [to_event(name, raw)]
        if wanted(event, subject, practice)
    ]
    events.sort(key=lambda e: (e.at.timestamp() if e.at else 0.0, e.stream, e.seq), reverse=True)
    return events[:limit], cursor


async def read_after(
    js: JetStreamContext, stream: str, after: int, subject: str | None, limit: int = PASS_LIMIT
) -> list[FeedEvent]:
    """Up to ``limit`` messages of ``stream`` after sequence ``after`` (matching ``subject``)."""
    found: list[FeedEvent] = []
    seq = after + 1
    while len(found) < limit:
        try:
            raw = await js.get_msg(stream, seq, subject=subject or ">", next=True)
        except NotFoundError:
            break
        assert raw.seq is not None
        found.append(to_event(stream, raw))
        seq = raw.seq + 1
    return found


async def follow(
    nc: NATS,
    js: JetStreamContext,
    start: Cursor,
    *,
    subject: str | None = None,
    practice: uuid.UUID | None = None,
    heartbeat: float = 15.0,
) -> AsyncIterator[tuple[Cursor, FeedEvent | None]]:
    """Events after ``start``, as they come, each with the cursor just past it.

    Every ``heartbeat`` seconds without an event it yields ``(cursor, None)``: the caller sends
    a keep-alive (and the cursor, which advances past events the filters hid)."""
    streams = streams_for(subject)
    ends = await head(js, streams)
    cursor = Cursor()
    for name in streams:
        end = ends.positions.get(name, 0)
        at = start.positions.get(name, end)
        if at > end:  # a stream created again since: from its start
            at = 0
        elif end - at > MAX_BACKLOG:
            at = end - RESUME_WINDOW
        cursor.positions[name] = at

    wake = asyncio.Event()

    async def heard(msg: Msg) -> None:
        wake.set()

    patterns = [
        pattern
        for spec in STREAMS
        if spec.name in streams
        for pattern in ([subject] if subject else spec.subjects)
    ]
    subscriptions = [await nc.subscribe(pattern, cb=heard) for pattern in patterns]
    woken, retries = False, 0
    try:
        while True:
            wake.clear()
            behind, read = False, False
            for name in streams:
                batch = await read_after(js, name, cursor.positions[name], subject)
                behind = behind or len(batch) == PASS_LIMIT
                read = read or bool(batch)
                for event in batch:
                    cursor.positions[name] = event.seq
                    if wanted(event, subject, practice):
                        yield cursor.copy(), event
            if behind:
                continue
            # A subject is heard as it is published; the stream may store it a moment later:
            # read again shortly rather than wait for the next message or the heartbeat.
            if woken and not read and retries < WAKE_RETRIES:
                retries += 1
                await asyncio.sleep(WAKE_RETRY_SECONDS)
                continue
            woken, retries = False, 0
            try:
                async with asyncio.timeout(heartbeat):  # not wait_for: it can swallow a cancel
                    await wake.wait()
                woken = True
            except TimeoutError:
                yield cursor.copy(), None
    finally:
        for subscription in subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
