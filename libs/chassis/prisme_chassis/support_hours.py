"""Support hours (DESIGN.md §2 S1): when the provider answers, and when alerts reach people.

Monday–Friday 07:00–20:00 and Saturday 07:00–16:00 are open; Sunday has an on-call window
09:00–12:00; La Réunion's public holidays (France, subdivision RE, from the maintained
``holidays`` package: it has 20 December) are handled like a Sunday. All times are
Indian/Reunion (UTC+4, no daylight saving). Windows are half-open: 20:00 is already closed.

Pure functions over aware datetimes: no clock is read here, callers pass "now".
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

import holidays

from .calendar import REUNION

Status = Literal["open", "on_call", "closed"]

OPEN_WEEKDAY = (time(7, 0), time(20, 0))
OPEN_SATURDAY = (time(7, 0), time(16, 0))
ON_CALL_SUNDAY = (time(9, 0), time(12, 0))

#: Far enough to cross any run of closed days (a holiday next to a Sunday is two).
_SEARCH_DAYS = 14


@dataclass(frozen=True)
class Window:
    """One stretch of a day when someone answers: open hours or an on-call window."""

    kind: Literal["open", "on_call"]
    start: datetime
    end: datetime

    def __contains__(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class SupportStatus:
    """What the dashboard shows: the status now, until when, and the next opening."""

    status: Status
    label: str
    until: datetime | None
    next_opening: datetime


_LABELS: dict[Status, str] = {
    "open": "Support ouvert",
    "on_call": "Astreinte (urgences uniquement)",
    "closed": "Support fermé",
}


@functools.cache
def _holidays() -> holidays.HolidayBase:
    # names in French: operators read them (e.g. « Abolition de l'esclavage » on 20 December)
    return holidays.country_holidays("FR", subdiv="RE", language="fr")


def is_holiday(day: date) -> bool:
    """A public holiday on La Réunion (20 December, 1 May, Christmas…)."""
    return day in _holidays()


def holiday_name(day: date) -> str | None:
    name = _holidays().get(day)
    return str(name) if name else None


def windows_on(day: date) -> list[Window]:
    """The support windows of a calendar day in La Réunion, in order."""

    def window(kind: Literal["open", "on_call"], hours: tuple[time, time]) -> Window:
        start, end = hours
        return Window(
            kind,
            datetime.combine(day, start, tzinfo=REUNION),
            datetime.combine(day, end, tzinfo=REUNION),
        )

    if day.weekday() == 6 or is_holiday(day):
        return [window("on_call", ON_CALL_SUNDAY)]
    if day.weekday() == 5:
        return [window("open", OPEN_SATURDAY)]
    return [window("open", OPEN_WEEKDAY)]


def _local(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return at.astimezone(REUNION)


def _windows_from(at: datetime) -> list[Window]:
    """Every window of the days from ``at``'s local day on, far enough to find the next."""
    day = _local(at).date()
    found: list[Window] = []
    for offset in range(_SEARCH_DAYS):
        found += windows_on(day + timedelta(days=offset))
    return found


def status(at: datetime) -> Status:
    """``open``, ``on_call`` or ``closed`` at ``at``."""
    for window in windows_on(_local(at).date()):
        if at in window:
            return window.kind
    return "closed"


def is_open(at: datetime) -> bool:
    """Open support hours (not on-call): every alert is e-mailed at once."""
    return status(at) == "open"


def is_on_call(at: datetime) -> bool:
    """An on-call window: only urgent alerts are e-mailed."""
    return status(at) == "on_call"


def next_opening(at: datetime) -> datetime:
    """The first instant at or after ``at`` that is open (``at`` itself when open)."""
    for window in _windows_from(at):
        if window.kind == "open" and window.end > at:
            return max(window.start, at)
    raise RuntimeError(f"no opening within {_SEARCH_DAYS} days of {at}")  # pragma: no cover


def next_on_call(at: datetime) -> datetime:
    """The first instant at or after ``at`` inside an on-call window."""
    for window in _windows_from(at):
        if window.kind == "on_call" and window.end > at:
            return max(window.start, at)
    raise RuntimeError(f"no on-call window within {_SEARCH_DAYS} days of {at}")  # pragma: no cover


def delivery_time(at: datetime, *, urgent: bool) -> datetime:
    """When an alert raised at ``at`` reaches people (S1).

    At once in open hours; outside them held until the next opening, except an urgent alert,
    which also goes out in an on-call window (at once if one is running).
    """
    opening = next_opening(at)
    if not urgent:
        return opening
    return min(opening, next_on_call(at))


def current(at: datetime) -> SupportStatus:
    """The status at ``at``, when it changes, and the next opening."""
    now = status(at)
    until = None
    for window in windows_on(_local(at).date()):
        if at in window:
            until = window.end
    return SupportStatus(now, _LABELS[now], until, next_opening(at))
