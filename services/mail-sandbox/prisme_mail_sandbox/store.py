"""What the sandbox received: each message as it came off the wire, parsed for reading."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage


@dataclass(frozen=True)
class Stored:
    """One message as received: envelope, raw bytes and the parsed headers and text."""

    id: str
    seq: int
    received_at: datetime
    mail_from: str
    rcpt_to: tuple[str, ...]
    raw: bytes

    @property
    def parsed(self) -> EmailMessage:
        message = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message

    @property
    def subject(self) -> str:
        return str(self.parsed.get("Subject", ""))

    @property
    def text(self) -> str:
        body = self.parsed.get_body(preferencelist=("plain", "html"))
        return body.get_content() if body is not None else ""

    def headers(self) -> dict[str, str]:
        return {key: str(value) for key, value in self.parsed.items()}


@dataclass
class Mailbox:
    """Every message received since start (or the last clear), oldest first."""

    messages: list[Stored] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, mail_from: str, rcpt_to: list[str], raw: bytes) -> Stored:
        stored = Stored(
            id=str(uuid.uuid4()),
            seq=next(self._seq),
            received_at=datetime.now(UTC),
            mail_from=mail_from,
            rcpt_to=tuple(rcpt_to),
            raw=raw,
        )
        self.messages.append(stored)
        return stored

    def get(self, message_id: str) -> Stored | None:
        return next((m for m in self.messages if m.id == message_id), None)

    def search(self, to: str | None = None, subject: str | None = None) -> list[Stored]:
        found = self.messages
        if to:
            found = [m for m in found if any(to.lower() == r.lower() for r in m.rcpt_to)]
        if subject:
            found = [m for m in found if subject.lower() in m.subject.lower()]
        return list(found)

    def clear(self) -> None:
        self.messages.clear()
