"""Réunion time: the business day of the platform is Indian/Reunion (UTC+4, no DST)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

REUNION = ZoneInfo("Indian/Reunion")


def now() -> datetime:
    return datetime.now(UTC)


def business_today(at: datetime | None = None) -> date:
    """The calendar day in La Réunion at ``at`` (default: now)."""
    moment = at or now()
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return moment.astimezone(REUNION).date()


def reunion_datetime(day: date, at: time = time(0, 0)) -> datetime:
    """``day`` at ``at`` o'clock, Indian/Reunion, as an aware datetime."""
    return datetime.combine(day, at, tzinfo=REUNION)


def end_of_year(year: int) -> datetime:
    """31 December ``year`` 23:59:59 Indian/Reunion (C2)."""
    return datetime(year, 12, 31, 23, 59, 59, tzinfo=REUNION)
