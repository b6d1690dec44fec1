"""The service's "now": system time plus an offset that tests (and a clock travel) move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def travel_to(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("naive datetime: times must be timezone-aware")
        self.offset = instant - datetime.now(UTC)

    def reset(self) -> None:
        self.offset = timedelta(0)


CLOCK = Clock()


def now() -> datetime:
    return CLOCK.now()
