"""Dead letters: each service's own stream ``DEADLETTERS_<SERVICE>``, read for the API.

A dead letter is stored under ``deadletter.<service>.<durable>.<original subject>``. Only the
service's NATS user may publish under ``deadletter.<service>.>`` (prisme_localinfra.nats_auth),
so the stored subject, not a header anyone could set, says whose letter it is and which
consumer it belongs to. The ``prisme-dl-*`` headers carry only what the chassis recorded
(error, delivery count).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prisme_events import dead_letter_stream


@dataclass(frozen=True)
class DeadLetter:
    seq: int
    durable: str
    subject: str
    error: str
    delivered: int
    event_id: str
    data: bytes
    headers: dict[str, str]


def dead_letter_subject(service: str, durable: str, subject: str) -> str:
    return f"deadletter.{service}.{durable}.{subject}"


class NotADeadLetter(LookupError):
    """No dead letter of this service at that sequence."""


def _letter(
    service: str, seq: int, stored: str, data: bytes, headers: dict[str, str]
) -> DeadLetter:
    prefix = f"deadletter.{service}."
    durable, _, subject = stored.removeprefix(prefix).partition(".")
    if not stored.startswith(prefix) or not durable or not subject:
        raise NotADeadLetter(f"message {seq} ({stored}) is not a dead letter of {service}")
    clean = {k: v for k, v in headers.items() if not k.startswith("prisme-dl-")}
    try:
        delivered = int(headers.get("prisme-dl-delivered", "0"))
    except ValueError:
        delivered = 0
    return DeadLetter(
        seq=seq,
        durable=durable,
        subject=subject,
        error=headers.get("prisme-dl-error", ""),
        delivered=delivered,
        event_id=headers.get("ce-id", ""),
        data=data,
        headers=clean,
    )


async def load_dead_letter(js: JetStreamContext, service: str, seq: int) -> DeadLetter:
    """The stored dead letter ``seq`` of ``service``; :class:`NotADeadLetter` if there is none."""
    try:
        raw = await js.get_msg(dead_letter_stream(service).name, seq)
    except NotFoundError as exc:
        raise NotADeadLetter(f"no dead letter {seq} for {service}") from exc
    assert raw.seq is not None
    return _letter(service, raw.seq, raw.subject or "", raw.data or b"", dict(raw.headers or {}))


async def list_dead_letters(
    js: JetStreamContext,
    service: str,
    durables: Collection[str] | None = None,
    *,
    after: int = 0,
    limit: int = 100,
) -> list[DeadLetter]:
    """The dead letters still kept after stream sequence ``after``, oldest first, at most
    ``limit``; only those of ``durables`` when given (a keyset page: the cursor is the last
    letter's sequence)."""
    stream = dead_letter_stream(service).name
    letters: list[DeadLetter] = []
    seq = after + 1
    while len(letters) < limit:
        try:
            raw = await js.get_msg(stream, seq, subject=f"deadletter.{service}.>", next=True)
        except NotFoundError:
            break
        assert raw.seq is not None
        letter = _letter(
            service, raw.seq, raw.subject or "", raw.data or b"", dict(raw.headers or {})
        )
        if durables is None or letter.durable in durables:
            letters.append(letter)
        seq = raw.seq + 1
    return letters
