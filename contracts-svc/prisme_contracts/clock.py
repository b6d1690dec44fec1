"""The service's notion of "now", so the business day (Indian/Reunion) is read in one place.

Production uses the system clock. Tests move an in-process service's clock forward (for
instance past 31 December) instead of waiting for the calendar; the offset is refused in
production by the settings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from . import domain


class Clock:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def today(self) -> date:
        """The business day, Indian/Reunion time."""
        return domain.reunion_today(self.now())

    def travel_to(self, instant: datetime) -> None:
        """Make ``now()`` read ``instant`` (then run on from there)."""
        self.offset = instant - datetime.now(UTC)
