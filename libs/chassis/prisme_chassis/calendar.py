"""Réunion dates: the business day of the platform is Indian/Reunion (UTC+4, no DST).

The time zone and "now" come from :mod:`prisme_chassis.clock` (the platform clock); this
module builds dates and instants on them.
"""

from __future__ import annotations

from datetime import date, datetime, time

from .clock import REUNION, business_day, now

__all__ = ["REUNION", "business_today", "end_of_year", "now", "reunion_datetime"]


def business_today(at: datetime | None = None) -> date:
    """The calendar day in La Réunion at ``at`` (default: the platform clock's now)."""
    return business_day(at or now())


def reunion_datetime(day: date, at: time = time(0, 0)) -> datetime:
    """``day`` at ``at`` o'clock, Indian/Reunion, as an aware datetime."""
    return datetime.combine(day, at, tzinfo=REUNION)


def end_of_year(year: int) -> datetime:
    """31 December ``year`` 23:59:59 Indian/Reunion (C2)."""
    return datetime(year, 12, 31, 23, 59, 59, tzinfo=REUNION)
