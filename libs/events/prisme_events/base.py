"""The event base class, the subject registry and the CloudEvents envelope.

Every integration event is one pydantic model, a subclass of :class:`Event`, declared once
in this package and imported by producers and consumers alike (STYLE.md habit 4).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_REGISTRY: dict[str, type[Event]] = {}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every integration event: a past-tense fact with an id and a time.

    Subclasses set ``subject`` (the NATS subject, also the CloudEvents ``ce-type``),
    ``source`` (the producing service) and ``schema_version`` (bumped whenever the payload
    changes); they name their aggregate through :meth:`aggregate_id`. Every event carries its
    aggregate's ``version`` after the change (DESIGN §3), strictly increasing per aggregate, so
    consumers can ignore what arrives late or twice.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    subject: ClassVar[str]
    source: ClassVar[str]
    schema_version: ClassVar[int] = 1

    event_id: uuid.UUID = Field(
        default_factory=uuid.uuid4, description="Unique id; ce-id and Nats-Msg-Id"
    )
    occurred_at: AwareDatetime = Field(
        default_factory=_utcnow, description="When the fact happened"
    )
    version: int = Field(
        ge=1, description="The aggregate's version after this change (1 for its first event)"
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        subject = cls.__dict__.get("subject")
        if isinstance(subject, str):
            if subject in _REGISTRY and _REGISTRY[subject].__qualname__ != cls.__qualname__:
                raise TypeError(f"event subject {subject!r} declared twice")
            _REGISTRY[subject] = cls

    def aggregate_id(self) -> str:
        """The id of the aggregate the event is about (CloudEvents ``ce-subject``)."""
        raise NotImplementedError  # pragma: no cover - every concrete event overrides it

    @classmethod
    def dataschema(cls) -> str:
        return f"urn:prisme:events:{cls.subject}:v{cls.schema_version}"


def event_types() -> dict[str, type[Event]]:
    """The catalogue: every event type declared in this package, by subject.

    Events declared elsewhere (the test-only demo service) are decodable but not part of the
    catalogue, its streams or its AsyncAPI document.
    """
    return {
        subject: cls
        for subject, cls in sorted(_REGISTRY.items())
        if cls.__module__.startswith("prisme_events.")
    }


def event_type(subject: str) -> type[Event]:
    """The event class for ``subject``; ``KeyError`` when the catalogue does not know it."""
    return _REGISTRY[subject]


class UnknownEventError(Exception):
    pass


def cloudevent_headers(event: Event) -> dict[str, str]:
    """CloudEvents 1.0 binary-mode attributes for a NATS message (DESIGN.md §3)."""
    return {
        "ce-specversion": "1.0",
        "ce-id": str(event.event_id),
        "ce-type": event.subject,
        "ce-source": event.source,
        "ce-subject": event.aggregate_id(),
        "ce-time": event.occurred_at.isoformat(),
        "ce-dataschema": event.dataschema(),
        "content-type": "application/json",
        "Nats-Msg-Id": str(event.event_id),
    }


def encode(event: Event) -> bytes:
    return event.model_dump_json().encode()


def decode(subject: str, data: bytes) -> Event:
    """Parse a message body into its catalogue model, by the message's ``ce-type``."""
    try:
        cls = _REGISTRY[subject]
    except KeyError as exc:
        raise UnknownEventError(subject) from exc
    return cls.model_validate_json(data)
