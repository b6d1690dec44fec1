"""Pure backup rules (K1–K3): schedule, history, check rotation, missed days, purge, quota.

No I/O here: plain functions over plain values, used by the control plane and the agent.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from prisme_chassis.clock import REUNION, business_day

__all__ = ["REUNION", "business_day"]  # the platform's, re-exported for the rules below
CLOUD_BACKUP = "cloud_backup"  # catalogue item of the PRISME offer (C1) that brings K1
QUOTA_BYTES = 1_000_000_000_000  # K1: 1 TB
HISTORY_DAYS = 30  # K1: 30 days of history at most
DEFAULT_DAILY_AT = time(21, 0)
DEFAULT_GRACE = timedelta(hours=6)
DEFAULT_CHECK_PARTS = 7  # a full read of the packs every week, one seventh a day
DEFAULT_RESTORE_EVERY_DAYS = 7


def includes_backup(includes: list[str]) -> bool:
    """Does a contract's offer include the cloud backup (K1, C1)?"""
    return CLOUD_BACKUP in includes


def slot(day: date, daily_at: time) -> datetime:
    """The scheduled start of ``day``'s copy, Indian/Reunion time."""
    return datetime.combine(day, daily_at, tzinfo=REUNION)


def next_slot(daily_at: time, now: datetime) -> datetime:
    """The next scheduled start strictly after ``now``."""
    today = business_day(now)
    candidate = slot(today, daily_at)
    if candidate <= now:
        candidate = slot(today + timedelta(days=1), daily_at)
    return candidate


def first_due_day(since: datetime, daily_at: time) -> date:
    """The first day whose slot comes after ``since`` (a plan owes no copy before it exists)."""
    return business_day(next_slot(daily_at, since - timedelta(microseconds=1)))


def missed_days(
    *,
    first_day: date,
    daily_at: time,
    grace: timedelta,
    now: datetime,
    covered: set[date],
    last_day: date | None = None,
) -> list[date]:
    """Days from ``first_day`` whose copy is overdue (slot + grace passed) and not covered (K2).

    ``last_day`` bounds the scan (the end of the contract)."""
    days: list[date] = []
    day = first_day
    while slot(day, daily_at) + grace <= now and (last_day is None or day <= last_day):
        if day not in covered:
            days.append(day)
        day += timedelta(days=1)
    return days


def check_subset(day: date, parts: int = DEFAULT_CHECK_PARTS) -> str:
    """The rotating ``restic check --read-data-subset n/N`` share for ``day``: over ``parts``
    consecutive days every pack is read once (K2)."""
    if parts < 1:
        raise ValueError("parts must be at least 1")
    return f"{day.toordinal() % parts + 1}/{parts}"


def restore_due(last: date | None, day: date, every_days: int = DEFAULT_RESTORE_EVERY_DAYS) -> bool:
    """Is a periodic test restore due on ``day`` (K2)?"""
    return last is None or (day - last).days >= every_days


def purge_after(last_covered_day: date, history_days: int = HISTORY_DAYS) -> datetime:
    """When the copies of an ended plan are destroyed (K3): once the newest copy is older
    than the history, i.e. at the end of ``last_covered_day + history_days``, Réunion time."""
    return datetime.combine(last_covered_day + timedelta(days=history_days + 1), time(0), REUNION)


def over_quota(used_bytes: int, quota_bytes: int = QUOTA_BYTES) -> bool:
    return used_bytes > quota_bytes
