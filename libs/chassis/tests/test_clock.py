"""The platform clock: one "now" and one Réunion business day, moved for every service at once
through the ``PRISME_CLOCK`` key-value bucket, never in production."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js import JetStreamContext
from prisme_chassis import calendar, clock
from prisme_chassis.clock import CLOCK, REUNION, Clock, ClockLockedError, Travel
from prisme_testing.runner import ServiceProcess


async def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll ``check`` (plain or async) until it returns a truthy value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true after {timeout}s (last: {value!r})")
        await asyncio.sleep(0.05)


# -- the clock itself ------------------------------------------------------------------------


def test_now_is_aware_utc_and_today_is_the_reunion_day() -> None:
    c = Clock()
    assert c.now().tzinfo is not None
    assert abs((c.now() - datetime.now(UTC)).total_seconds()) < 60
    c.travel_to(datetime(2026, 12, 31, 19, 59, 59, tzinfo=UTC))  # 23:59:59 in La Réunion
    assert c.today() == date(2026, 12, 31)
    c.travel_to(datetime(2026, 12, 31, 20, 0, 0, tzinfo=UTC))  # midnight in La Réunion
    assert c.today() == date(2027, 1, 1)


def test_travel_moves_now_and_it_runs_on_from_there() -> None:
    c = Clock()
    target = datetime(2027, 1, 1, 0, 0, 5, tzinfo=REUNION)
    c.travel_to(target)
    first = c.now()
    assert timedelta(0) <= first - target < timedelta(seconds=5)
    assert c.now() >= first
    c.reset()
    assert c.offset == timedelta(0)
    assert abs((c.now() - datetime.now(UTC)).total_seconds()) < 60


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        Clock().travel_to(datetime(2027, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        clock.business_day(datetime(2027, 1, 1))


def test_a_locked_clock_refuses_to_travel() -> None:
    c = Clock()
    c.travel_to(datetime(2030, 1, 1, tzinfo=UTC))
    c.lock()
    assert c.offset == timedelta(0)  # production reads the system time
    with pytest.raises(ClockLockedError):
        c.travel_to(datetime(2030, 1, 1, tzinfo=UTC))
    with pytest.raises(ClockLockedError):
        c.set_offset(timedelta(days=1))
    assert c.offset == timedelta(0)


def test_module_functions_and_calendar_read_the_process_clock() -> None:
    CLOCK.travel_to(datetime(2031, 7, 14, 9, 0, tzinfo=REUNION))
    assert clock.today() == date(2031, 7, 14)
    assert calendar.business_today() == date(2031, 7, 14)
    assert clock.now().astimezone(REUNION).hour == 9
    # calendar and clock share the one time zone object
    assert calendar.REUNION is clock.REUNION


def test_travel_values_round_trip_and_garbage_means_no_travel() -> None:
    at = datetime(2027, 1, 1, 0, 0, 5, tzinfo=REUNION)
    value = Travel(offset=timedelta(days=30, seconds=1.5), travelled_to=at)
    assert Travel.decode(value.encode()) == value
    for garbage in (b"", b"not json", b'{"offset_seconds": "x"}', b"[1, 2]", None):
        assert Travel.decode(garbage).offset == timedelta(0)


async def test_sleep_until_wakes_when_the_clock_travels_past_the_instant() -> None:
    due = clock.now() + timedelta(days=200)
    sleeper = asyncio.create_task(clock.sleep_until(due, wake=0.05))
    await asyncio.sleep(0.2)
    assert not sleeper.done()
    CLOCK.travel_to(due + timedelta(seconds=1))
    await asyncio.wait_for(sleeper, timeout=10)


# -- the platform-wide offset over a real NATS JetStream --------------------------------------


@contextlib.asynccontextmanager
async def jetstream(url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(url)
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


async def test_a_follower_takes_travels_and_resets_even_when_the_bucket_comes_later(
    nats_url: str,
) -> None:
    mine = Clock()
    async with jetstream(nats_url) as js:
        assert await clock.read_travel(js) is None
        follower = asyncio.create_task(clock.follow_platform_clock(js, mine))
        try:
            target = datetime(2027, 1, 1, 0, 0, 5, tzinfo=REUNION)
            await clock.travel(js, target)  # creates the bucket
            await eventually(lambda: abs((mine.now() - target).total_seconds()) < 30)
            travel = await clock.read_travel(js)
            assert travel is not None
            assert travel.travelled_to == target
            await clock.reset(js)
            await eventually(lambda: mine.offset == timedelta(0))
            await clock.travel(js, target + timedelta(days=31))
            await eventually(lambda: mine.today() == date(2027, 2, 1))
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower


def _demo_env(dsn: str, nats_url: str, public_key: str, data_dir: Path, env: str) -> dict[str, str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PRISME_ENV": env,
        "PRISME_NATS_URL": nats_url,
        "PRISME_DEMO_DATABASE_URL": dsn,
        "PRISME_JWT_PUBLIC_KEY": public_key,
        "PRISME_DATA_DIR": str(data_dir),
    }


async def _service_clock(proc: ServiceProcess, headers: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=proc.url, headers=headers, timeout=10) as http:
        r = await http.get("/v1/clock")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def _reads(body: dict[str, Any], instant: datetime, slack: float = 30.0) -> bool:
    return abs((datetime.fromisoformat(body["now"]) - instant).total_seconds()) < slack


async def test_two_service_processes_travel_together_and_reset_together(
    new_database: Callable[[], Awaitable[str]],
    nats_url: str,
    platform_keys: tuple[str, str],
    auth_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    procs = [
        ServiceProcess(
            "prisme_testing.demo",
            _demo_env(await new_database(), nats_url, platform_keys[1], tmp_path / n, "test"),
            log_file=tmp_path / f"{n}.log",
        )
        for n in ("one", "two")
    ]
    for proc in procs:
        proc.start()
    try:
        for proc in procs:
            await proc.wait_ready()
        target = datetime(2027, 1, 1, 0, 0, 5, tzinfo=REUNION)
        async with jetstream(nats_url) as js:
            await clock.travel(js, target)

            async def both_travelled() -> bool:
                bodies = [await _service_clock(p, auth_headers) for p in procs]
                return all(_reads(b, target) for b in bodies)

            await eventually(both_travelled)
            body = await _service_clock(procs[0], auth_headers)
            assert body["business_day"] == "2027-01-01"
            assert body["locked"] is False

            await clock.reset(js)

            async def both_back() -> bool:
                bodies = [await _service_clock(p, auth_headers) for p in procs]
                return all(b["offset_seconds"] == 0 for b in bodies)

            await eventually(both_back)
            for proc in procs:
                assert _reads(await _service_clock(proc, auth_headers), datetime.now(UTC))
    finally:
        for proc in procs:
            proc.kill()


async def test_a_service_started_after_a_travel_starts_travelled(
    new_database: Callable[[], Awaitable[str]],
    nats_url: str,
    platform_keys: tuple[str, str],
    auth_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    target = datetime(2028, 3, 1, 8, 0, tzinfo=REUNION)
    async with jetstream(nats_url) as js:
        await clock.travel(js, target)
    env = _demo_env(await new_database(), nats_url, platform_keys[1], tmp_path / "d", "test")
    proc = ServiceProcess("prisme_testing.demo", env, log_file=tmp_path / "demo.log")
    proc.start()
    try:
        await proc.wait_ready()
        # at readiness already: the offset is read before the service serves
        assert _reads(await _service_clock(proc, auth_headers), target)
    finally:
        proc.kill()


async def test_a_production_service_ignores_travel(
    new_database: Callable[[], Awaitable[str]],
    nats_url: str,
    platform_keys: tuple[str, str],
    auth_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    target = datetime(2027, 1, 1, 0, 0, 5, tzinfo=REUNION)
    async with jetstream(nats_url) as js:
        await clock.travel(js, target)  # already there when the service starts
        env = _demo_env(
            await new_database(), nats_url, platform_keys[1], tmp_path / "p", "production"
        )
        proc = ServiceProcess("prisme_testing.demo", env, log_file=tmp_path / "prod.log")
        proc.start()
        try:
            await proc.wait_ready()
            await clock.travel(js, target + timedelta(days=1))  # and moved while it runs
            await asyncio.sleep(1.5)  # longer than a follower needs; nothing must change
            body = await _service_clock(proc, auth_headers)
            assert body["locked"] is True
            assert body["offset_seconds"] == 0
            assert _reads(body, datetime.now(UTC))
        finally:
            proc.kill()
