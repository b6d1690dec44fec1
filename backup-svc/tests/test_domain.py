"""Pure rules of backup-svc (K1–K3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prisme_backup import domain
from prisme_backup.domain import REUNION


def test_only_offers_with_cloud_backup_get_a_plan() -> None:
    assert domain.includes_backup(["microsoft_365", "cloud_backup"])
    assert not domain.includes_backup(["microsoft_365", "video_recordings"])


def test_slot_is_reunion_time() -> None:
    s = domain.slot(date(2026, 3, 2), time(21, 0))
    assert s.astimezone(UTC) == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def test_business_day_follows_reunion_not_utc() -> None:
    assert domain.business_day(datetime(2026, 3, 2, 21, 30, tzinfo=UTC)) == date(2026, 3, 3)
    with pytest.raises(ValueError, match="naive"):
        domain.business_day(datetime(2026, 3, 2))


def test_next_slot_and_first_due_day() -> None:
    before = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)  # 20:00 in Réunion
    after = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)  # 21:30 in Réunion
    assert domain.next_slot(time(21), before) == domain.slot(date(2026, 3, 2), time(21))
    assert domain.next_slot(time(21), after) == domain.slot(date(2026, 3, 3), time(21))
    assert domain.first_due_day(before, time(21)) == date(2026, 3, 2)
    assert domain.first_due_day(after, time(21)) == date(2026, 3, 3)


def test_missed_days_wait_for_the_grace_and_skip_covered_days() -> None:
    first = date(2026, 3, 1)
    grace = timedelta(hours=6)
    # 3 March 21:00 + 6h = 4 March 03:00 Réunion = 3 March 23:00 UTC
    now = datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
    args = {"first_day": first, "daily_at": time(21), "grace": grace}
    assert domain.missed_days(**args, now=now, covered={date(2026, 3, 2)}) == [
        date(2026, 3, 1),
        date(2026, 3, 3),
    ]
    just_before = now - timedelta(seconds=1)
    assert domain.missed_days(**args, now=just_before, covered=set()) == [
        date(2026, 3, 1),
        date(2026, 3, 2),
    ]
    assert domain.missed_days(**args, now=now, covered=set(), last_day=date(2026, 3, 1)) == [
        date(2026, 3, 1)
    ]


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(1, 30))
def test_check_subsets_rotate_over_every_pack(day: date, parts: int) -> None:
    seen = {domain.check_subset(day + timedelta(days=i), parts) for i in range(parts)}
    assert seen == {f"{n}/{parts}" for n in range(1, parts + 1)}


def test_check_subset_refuses_zero_parts() -> None:
    with pytest.raises(ValueError, match="parts"):
        domain.check_subset(date(2026, 1, 1), 0)


def test_restore_due_periodically() -> None:
    assert domain.restore_due(None, date(2026, 3, 1), 7)
    assert not domain.restore_due(date(2026, 3, 1), date(2026, 3, 7), 7)
    assert domain.restore_due(date(2026, 3, 1), date(2026, 3, 8), 7)


def test_purge_comes_when_the_30_day_history_has_run_out() -> None:
    at = domain.purge_after(date(2026, 12, 31))
    assert at == datetime(2027, 1, 31, 0, 0, tzinfo=REUNION)
    # the last copy (31 Dec) is 30 full days old at that moment
    assert (at.date() - date(2026, 12, 31)).days == 31


def test_quota_is_one_terabyte() -> None:
    assert domain.QUOTA_BYTES == 10**12
    assert not domain.over_quota(10**12)
    assert domain.over_quota(10**12 + 1)
