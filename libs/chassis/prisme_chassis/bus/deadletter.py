"""Reading dead letters (the ``DEADLETTERS`` stream) for the API and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from prisme_events import DEAD_LETTER_STREAM


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


def _letter(seq: int, data: bytes, headers: dict[str, str]) -> DeadLetter:
    clean = {k: v for k, v in headers.items() if not k.startswith("prisme-dl-")}
    return DeadLetter(
        seq=seq,
        durable=headers.get("prisme-dl-durable", ""),
        subject=headers.get("prisme-dl-subject", ""),
        error=headers.get("prisme-dl-error", ""),
        delivered=int(headers.get("prisme-dl-delivered", "0")),
        event_id=headers.get("ce-id", ""),
        data=data,
        headers=clean,
    )


async def load_dead_letter(js: JetStreamContext, seq: int) -> DeadLetter:
    raw = await js.get_msg(DEAD_LETTER_STREAM.name, seq)
    assert raw.seq is not None
    return _letter(raw.seq, raw.data or b"", dict(raw.headers or {}))


async def list_dead_letters(
    js: JetStreamContext, durable: str | None = None, limit: int = 100
) -> list[DeadLetter]:
    """The dead letters still kept, oldest first, optionally for one durable consumer."""
    subject = f"deadletter.{durable}.>" if durable else "deadletter.>"
    letters: list[DeadLetter] = []
    seq = 1
    while len(letters) < limit:
        try:
            raw = await js.get_msg(DEAD_LETTER_STREAM.name, seq, subject=subject, next=True)
        except NotFoundError:
            break
        assert raw.seq is not None
        letters.append(_letter(raw.seq, raw.data or b"", dict(raw.headers or {})))
        seq = raw.seq + 1
    return letters
