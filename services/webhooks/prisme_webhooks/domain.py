"""Pure rules of deliveries: filters, thin payloads, what an answer means, when to retry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from prisme_events import Event, stream_for

EXCERPT_BYTES = 1024
TEST_EVENT = "webhook.test"

_PATTERN = re.compile(r"^(\*|[a-z_]+\.(\*|[a-z_]+))$")
_SECRETISH = re.compile(r"password|secret|token|passphrase|private|key$", re.IGNORECASE)


def valid_filter(pattern: str) -> bool:
    """``*``, ``contract.*`` or an exact type ``invoice.paid``."""
    return bool(_PATTERN.match(pattern))


def matches(patterns: Iterable[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def for_integrators(event_type: str) -> bool:
    """Business facts go to integrators; ``job.dead.*`` (a service's dead job, an operational
    matter for the technicians' alert) does not."""
    return not event_type.startswith("job.")


def known_pattern(pattern: str, event_types: Iterable[str]) -> bool:
    """A filter that can match something the platform publishes."""
    return any(matches([pattern], t) for t in event_types)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def thin_payload(event: Event) -> dict[str, Any]:
    """The body sent to integrators: the type, the event's time and its aggregate (id,
    version) so receivers can order, and the event's top-level facts. Nested objects (the
    practice's contacts, the users list) and anything secret-like are left out: integrators
    reload what they need through the APIs."""
    facts = {
        key: value
        for key, value in event.model_dump(mode="json").items()
        if _scalar(value) and key not in ("event_id", "occurred_at") and not _SECRETISH.search(key)
    }
    version = facts.pop("version", None)
    return {
        "type": event.subject,
        "timestamp": event.occurred_at.astimezone(UTC).isoformat(),
        "data": {
            **facts,
            "aggregate": {"id": event.aggregate_id(), "version": version},
        },
    }


Verdict = Literal["success", "gone", "retry"]


@dataclass(frozen=True)
class Answer:
    """What an attempt got back (``status`` None: no answer at all)."""

    status: int | None
    retry_after: float | None = None


def verdict(status: int | None) -> Verdict:
    """2xx succeeds; 410 means the receiver is gone for good (endpoint disabled); else retry."""
    if status is not None and 200 <= status < 300:
        return "success"
    if status == 410:
        return "gone"
    return "retry"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def next_delay(
    schedule: Sequence[float], attempt: int, status: int | None, retry_after: float | None
) -> float | None:
    """Seconds before the attempt after failed attempt ``attempt`` (1-based); None when the
    schedule is spent. On 429/503 a ``Retry-After`` replaces the schedule's delay."""
    if attempt > len(schedule):
        return None
    if status in (429, 503) and retry_after is not None:
        return retry_after
    return float(schedule[attempt - 1])


def excerpt(body: bytes) -> str:
    return body[:EXCERPT_BYTES].decode("utf-8", "replace")


def event_types_by_stream(types: Mapping[str, type[Event]]) -> dict[str, list[type[Event]]]:
    grouped: dict[str, list[type[Event]]] = {}
    for subject, cls in types.items():
        grouped.setdefault(stream_for(subject).name, []).append(cls)
    return grouped
