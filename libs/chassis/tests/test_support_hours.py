"""S1 support hours: the examples of the rule, and properties over any instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from prisme_chassis.calendar import REUNION
from prisme_chassis.support_hours import (
    current,
    delivery_time,
    is_holiday,
    is_on_call,
    is_open,
    next_on_call,
    next_opening,
    status,
    windows_on,
)


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=REUNION)


def test_weekday_evening_boundary() -> None:
    # 2026-11-30 is a Monday
    assert is_open(at(2026, 11, 30, 19, 59))
    assert not is_open(at(2026, 11, 30, 20, 0))
    assert status(at(2026, 11, 30, 20, 0)) == "closed"
    assert not is_open(at(2026, 11, 30, 6, 59))
    assert is_open(at(2026, 11, 30, 7, 0))


def test_saturday_boundary() -> None:
    assert is_open(at(2026, 12, 5, 15, 59))
    assert not is_open(at(2026, 12, 5, 16, 0))
    assert status(at(2026, 12, 5, 16, 0)) == "closed"


def test_sunday_is_on_call_only_in_the_morning() -> None:
    assert status(at(2026, 12, 6, 10, 0)) == "on_call"
    assert is_on_call(at(2026, 12, 6, 9, 0))
    assert not is_open(at(2026, 12, 6, 10, 0))
    assert status(at(2026, 12, 6, 12, 0)) == "closed"
    assert status(at(2026, 12, 6, 8, 59)) == "closed"


def test_holidays_come_from_the_library_and_are_sundays() -> None:
    # 20 December 2027 is a Monday, 1 May 2026 a Friday: both on-call only
    for day in (date(2027, 12, 20), date(2026, 5, 1), date(2026, 12, 25)):
        assert is_holiday(day)
        assert status(at(day.year, day.month, day.day, 10, 0)) == "on_call"
        assert status(at(day.year, day.month, day.day, 14, 0)) == "closed"
        assert [w.kind for w in windows_on(day)] == ["on_call"]
    assert not is_holiday(date(2026, 12, 21))


def test_next_opening_after_saturday_close_is_monday_morning() -> None:
    assert next_opening(at(2026, 12, 5, 16, 0)) == at(2026, 12, 7, 7, 0)
    # Easter Monday 2026 (6 April) is a holiday: the opening is Tuesday
    assert next_opening(at(2026, 4, 4, 16, 0)) == at(2026, 4, 7, 7, 0)
    # Saturday 18 December 2027 → Monday 20 is a holiday: Tuesday 21
    assert next_opening(at(2027, 12, 18, 16, 0)) == at(2027, 12, 21, 7, 0)


def test_next_opening_when_open_is_now() -> None:
    moment = at(2026, 12, 1, 10, 30)
    assert next_opening(moment) == moment


def test_alert_routing() -> None:
    friday_night = at(2026, 12, 4, 21, 0)
    assert delivery_time(friday_night, urgent=False) == at(2026, 12, 5, 7, 0)
    assert delivery_time(friday_night, urgent=True) == at(2026, 12, 5, 7, 0)
    saturday_evening = at(2026, 12, 5, 17, 0)
    assert delivery_time(saturday_evening, urgent=True) == at(2026, 12, 6, 9, 0)
    assert delivery_time(saturday_evening, urgent=False) == at(2026, 12, 7, 7, 0)
    sunday_on_call = at(2026, 12, 6, 10, 0)
    assert delivery_time(sunday_on_call, urgent=True) == sunday_on_call
    assert delivery_time(sunday_on_call, urgent=False) == at(2026, 12, 7, 7, 0)


def test_current_status_for_the_dashboard() -> None:
    now = current(at(2026, 12, 6, 10, 0))
    assert now.status == "on_call"
    assert now.until == at(2026, 12, 6, 12, 0)
    assert now.next_opening == at(2026, 12, 7, 7, 0)
    assert "Astreinte" in now.label
    closed = current(at(2026, 12, 6, 13, 0))
    assert closed.status == "closed"
    assert closed.until is None


def test_timezone_is_reunion_whatever_the_input_zone() -> None:
    # 16:00 UTC on a Monday is 20:00 in La Réunion: closed
    assert not is_open(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))
    assert is_open(datetime(2026, 11, 30, 15, 59, tzinfo=UTC))


instants = st.datetimes(
    min_value=datetime(2024, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.just(UTC),
)


@settings(max_examples=300, deadline=None)
@given(instants)
def test_next_opening_is_the_first_open_instant(t: datetime) -> None:
    opening = next_opening(t)
    assert opening >= t
    assert is_open(opening)
    assert opening - t < timedelta(days=5)
    # nothing open in between: sample every 5 minutes
    probe = t
    while probe < opening:
        assert not is_open(probe)
        probe += timedelta(minutes=5)


@settings(max_examples=300, deadline=None)
@given(instants)
def test_status_is_exactly_one_kind(t: datetime) -> None:
    kinds = [is_open(t), is_on_call(t), status(t) == "closed"]
    assert kinds.count(True) == 1
    local = t.astimezone(REUNION)
    if is_on_call(t):
        assert local.weekday() == 6 or is_holiday(local.date())
        assert 9 <= local.hour < 12
    if is_open(t):
        assert not is_holiday(local.date())
        assert local.weekday() != 6
        assert 7 <= local.hour < (16 if local.weekday() == 5 else 20)


@settings(max_examples=300, deadline=None)
@given(instants, st.booleans())
def test_delivery_never_before_raised_and_always_reaches_someone(t: datetime, urgent: bool) -> None:
    when = delivery_time(t, urgent=urgent)
    assert when >= t
    assert is_open(when) or (urgent and is_on_call(when))
    assert when <= next_opening(t)
    if urgent:
        assert when <= next_on_call(t)


def test_holidays_are_named_in_french() -> None:
    from prisme_chassis.support_hours import holiday_name

    assert holiday_name(date(2026, 12, 20)) == "Abolition de l'esclavage"
    assert holiday_name(date(2026, 7, 14)) == "Fête nationale"
    assert holiday_name(date(2026, 7, 15)) is None
