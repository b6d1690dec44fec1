"""Pure rules: link status (V3), contract state from reordered events, throttling (V4), ranges."""

from __future__ import annotations

import ipaddress
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prisme_video.credentials import (
    PasswordHashing,
    SessionCookies,
    hash_token,
    new_password,
    new_token,
)
from prisme_video.domain import (
    ContractState,
    FailureStats,
    RangeNotSatisfiableError,
    ThrottlePolicy,
    can_share,
    client_address,
    link_status,
    parse_range,
    purge_after,
    throttle,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
END = datetime(2026, 12, 31, 19, 59, 59, tzinfo=UTC)  # 23:59:59 Indian/Reunion
CID, CLIENT = uuid.uuid4(), uuid.uuid4()


def _state(version: int, status: str = "active", ends_at: datetime | None = END) -> ContractState:
    ended_at = NOW if status == "ended" else None
    return ContractState(CID, CLIENT, version, status, ends_at, ended_at)  # type: ignore[arg-type]


def test_link_status() -> None:
    assert link_status(revoked_at=None, expires_at=END, now=NOW) == "active"
    assert link_status(revoked_at=None, expires_at=END, now=END) == "expired"
    assert link_status(revoked_at=NOW, expires_at=END, now=NOW) == "revoked"
    assert link_status(revoked_at=NOW, expires_at=NOW, now=END) == "revoked"


def test_can_share() -> None:
    assert can_share(_state(1), CLIENT, NOW) is None
    assert can_share(None, CLIENT, NOW) is not None
    assert can_share(_state(1), uuid.uuid4(), NOW) is not None
    assert can_share(_state(2, "ended"), CLIENT, NOW) is not None
    assert can_share(_state(1), CLIENT, END) is not None


def test_delays_grow_then_cap() -> None:
    policy = ThrottlePolicy()
    delays = [policy.delay_after(n) for n in range(40)]
    assert delays[:3] == [timedelta(0)] * 3
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert delays[4] == 2 * delays[3]
    assert max(delays) == policy.max_delay
    link = [policy.link_delay_after(n) for n in range(10_000)]
    assert link[: policy.link_free_failures + 1] == [timedelta(0)] * (policy.link_free_failures + 1)
    assert max(link) == policy.link_max_delay == timedelta(seconds=30)


NONE = FailureStats(0, None)


def test_no_number_of_failures_locks_a_link() -> None:
    """Whoever holds a URL can slow its link for others by 30 s at most, never shut it."""
    policy = ThrottlePolicy()
    flood = FailureStats(100_000, NOW)
    decision = throttle(policy, flood, NONE, NOW)
    assert not decision.allowed
    assert decision.retry_after == policy.link_max_delay
    assert throttle(policy, flood, NONE, NOW + policy.link_max_delay).allowed


def test_the_address_that_fails_waits_longer_than_the_link() -> None:
    policy = ThrottlePolicy()
    mine = FailureStats(30, NOW)
    decision = throttle(policy, FailureStats(30, NOW), mine, NOW)
    assert decision.retry_after == policy.max_delay == timedelta(minutes=15)
    # another address on the same link only waits for the link's delay
    assert throttle(policy, FailureStats(30, NOW), NONE, NOW).retry_after == timedelta(seconds=30)


def test_throttle_delay_is_computed_from_the_last_failure() -> None:
    policy = ThrottlePolicy()
    stats = FailureStats(4, NOW - timedelta(seconds=1))
    decision = throttle(policy, NONE, stats, NOW)
    assert not decision.allowed
    assert decision.retry_after == timedelta(seconds=1)
    assert throttle(policy, NONE, stats, NOW + timedelta(seconds=1)).allowed


PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),
        # an untrusted peer's header is ignored: a client cannot pick its own address
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),
        ("10.0.0.2", "198.51.100.1", "198.51.100.1"),
        # what the client wrote itself (left of the proxies' entries) is never read
        ("10.0.0.2", "1.1.1.1, 198.51.100.1, 10.0.0.7", "198.51.100.1"),
        ("10.0.0.2", "garbage, 198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", "198.51.100.1, garbage", "10.0.0.2"),
        ("10.0.0.2", "10.0.0.3, 10.0.0.4", "10.0.0.3"),
        ("::1", "2001:db8::5", "2001:db8::5"),
        ("::ffff:10.0.0.2", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.2", None, "10.0.0.2"),
        (None, "198.51.100.1", "unknown"),
    ],
)
def test_client_address_behind_trusted_proxies(
    peer: str | None, forwarded: str | None, expected: str
) -> None:
    assert client_address(peer, forwarded, PROXIES) == expected


@given(peer=st.ip_addresses(), forwarded=st.text(max_size=200))
def test_client_address_never_raises(peer: Any, forwarded: str) -> None:
    result = client_address(str(peer), forwarded, PROXIES)
    assert result == "unknown" or ipaddress.ip_address(result)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=5-2", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=-", None),
        ("bytes=0-" + "9" * 4400, (0, 999)),  # a 4,400-digit end was a 500 (int() limit)
        ("bytes=-" + "9" * 4400, (0, 999)),
        ("bytes=\u0661-\u0662", None),  # non-ASCII digits are not digits here
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=2000-3000", "bytes=-0", "bytes=" + "9" * 4400 + "-"]
)
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiableError):
        parse_range(header, 1000)


@given(st.integers(1, 10_000), st.integers(0, 20_000), st.integers(0, 20_000))
def test_parsed_ranges_stay_inside_the_object(size: int, a: int, b: int) -> None:
    try:
        parsed = parse_range(f"bytes={a}-{b}", size)
    except RangeNotSatisfiableError:
        assert a >= size
        return
    if parsed is not None:
        start, end = parsed
        assert 0 <= start <= end < size


def test_purge_after() -> None:
    assert purge_after(NOW, 90) == NOW + timedelta(days=90)


def test_tokens_are_256_bits_and_hashed() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) >= 43 for t in tokens)
    token = tokens.pop()
    assert hash_token(token) == hash_token(token)
    assert token.encode() not in hash_token(token)


def test_passwords_hash_with_argon2id() -> None:
    hashing = PasswordHashing(time_cost=1, memory_kib=8 * 1024)
    password = new_password()
    stored = hashing.hash(password)
    assert stored.startswith("$argon2id$")
    assert password not in stored
    assert hashing.verify(stored, password)
    assert not hashing.verify(stored, password + "x")
    assert not hashing.verify("garbage", password)


def test_session_cookie_is_bound_to_its_link_and_expires() -> None:
    cookies = SessionCookies(b"k" * 32)
    link = uuid.uuid4()
    value = cookies.issue(link, NOW + timedelta(hours=1))
    assert cookies.valid_for(value, link, NOW)
    assert not cookies.valid_for(value, uuid.uuid4(), NOW)
    assert not cookies.valid_for(value, link, NOW + timedelta(hours=2))
    assert not SessionCookies(b"x" * 32).valid_for(value, link, NOW)
    forged = value.replace(str(link), str(uuid.uuid4()))
    assert not cookies.valid_for(forged, link, NOW)
    assert not cookies.valid_for(None, link, NOW)
    assert not cookies.valid_for("garbage", link, NOW)


@pytest.mark.parametrize("cookie", ["é.é.é", "x.1.\u00e9" * 3, "\udcff.1.ab", "." * 10])
def test_a_crafted_cookie_is_refused_never_an_error(cookie: str) -> None:
    """A non-ASCII cookie made hmac.compare_digest raise TypeError (a 500 on the viewer)."""
    assert not SessionCookies(b"k" * 32).valid_for(cookie, uuid.uuid4(), NOW)
