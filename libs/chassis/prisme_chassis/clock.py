"""The platform clock: the only source of "now" and of the Réunion business day.

Every service reads the time through :func:`now` and the business day (Indian/Reunion,
UTC+4, no daylight saving) through :func:`today`. ``REUNION`` is the platform's one time zone
object; :mod:`prisme_chassis.calendar` builds its date helpers on it.

In development and test the clock can be moved for the whole platform at once
(``prisme clock travel INSTANT`` / ``prisme clock reset``, DESIGN §4): the offset lives in the
JetStream key-value bucket ``PRISME_CLOCK`` (key ``offset``), which the chassis of every
running service watches (:func:`follow_platform_clock`), so a travel is effective in every
process within a second, without a restart. In production the chassis locks the clock
(:meth:`Clock.lock`) and never watches the bucket: a travel is refused there.

Waiting for a moment (the year-end at midnight, an expiry) goes through :func:`sleep_until`,
which wakes at least every second, so a travel moves scheduled work too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

log = logging.getLogger(__name__)

REUNION = ZoneInfo("Indian/Reunion")

#: JetStream key-value bucket holding the platform's clock offset, and its key.
BUCKET = "PRISME_CLOCK"
KEY = "offset"

#: A sleeping scheduler looks at the clock at least this often (seconds), so a travel is
#: noticed within a second.
WAKE_SECONDS = 1.0


class ClockLockedError(RuntimeError):
    """The clock cannot be moved: this process runs in production."""


def _system_now() -> datetime:
    return datetime.now(UTC)


def business_day(moment: datetime) -> date:
    """The calendar day in La Réunion at the aware instant ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    return moment.astimezone(REUNION).date()


class Clock:
    """The process's clock: the system time plus an offset (zero unless travelled)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._locked = False

    @property
    def offset(self) -> timedelta:
        return self._offset

    @property
    def locked(self) -> bool:
        return self._locked

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        return _system_now() + self._offset

    def today(self) -> date:
        """The business day, Indian/Reunion time."""
        return business_day(self.now())

    def set_offset(self, offset: timedelta) -> None:
        if self._locked and offset != timedelta(0):
            raise ClockLockedError("the clock cannot travel in production")
        self._offset = offset

    def travel_to(self, instant: datetime) -> None:
        """Make :meth:`now` read ``instant`` from this moment on (then run on from there)."""
        if instant.tzinfo is None:
            raise ValueError("naive datetime: times must be timezone-aware")
        self.set_offset(instant - _system_now())

    def reset(self) -> None:
        self._offset = timedelta(0)

    def lock(self) -> None:
        """Production: back to the system time, and no travel from now on."""
        self._offset = timedelta(0)
        self._locked = True

    def unlock(self) -> None:
        """For tests that ran a production-mode service in this process."""
        self._locked = False


#: The one clock of this process. Services read it through :func:`now` and :func:`today`.
CLOCK = Clock()


def now() -> datetime:
    """The platform's current instant (UTC, aware)."""
    return CLOCK.now()


def today() -> date:
    """The platform's business day (Indian/Reunion)."""
    return CLOCK.today()


async def sleep_until(instant: datetime, *, wake: float = WAKE_SECONDS) -> None:
    """Return once :func:`now` has reached ``instant``, following travels of the clock."""
    while True:
        remaining = (instant - now()).total_seconds()
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, wake))


# -- the platform-wide offset (JetStream key-value) ----------------------------------------


@dataclass(frozen=True)
class Travel:
    """What the bucket holds: the offset, and the instant asked for (for people reading it)."""

    offset: timedelta
    travelled_to: datetime | None = None

    def encode(self) -> bytes:
        return json.dumps(
            {
                "offset_seconds": self.offset.total_seconds(),
                "travelled_to": self.travelled_to.isoformat() if self.travelled_to else None,
            }
        ).encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> Travel:
        """An unreadable value counts as no travel (the system time), never as a crash."""
        try:
            data = json.loads(raw or b"{}")
            offset = timedelta(seconds=float(data.get("offset_seconds", 0.0)))
            to = data.get("travelled_to")
            return cls(offset=offset, travelled_to=datetime.fromisoformat(to) if to else None)
        except (ValueError, TypeError, AttributeError, OverflowError):
            log.warning("clock: unreadable value in %s/%s, using the system time", BUCKET, KEY)
            return cls(offset=timedelta(0))


async def clock_bucket(js: JetStreamContext, *, create: bool = False) -> KeyValue | None:
    """The ``PRISME_CLOCK`` bucket; ``None`` when it does not exist (and ``create`` is False)."""
    try:
        return await js.key_value(BUCKET)
    except (BucketNotFoundError, NotFoundError):
        if not create:
            return None
    return await js.create_key_value(bucket=BUCKET, history=1, description="platform clock")


async def travel(js: JetStreamContext, instant: datetime) -> Travel:
    """Move every watching service's clock to ``instant`` (development and test only: the
    caller refuses production, and a production service ignores the bucket)."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: times must be timezone-aware")
    kv = await clock_bucket(js, create=True)
    assert kv is not None
    value = Travel(offset=instant - _system_now(), travelled_to=instant)
    await kv.put(KEY, value.encode())
    return value


async def reset(js: JetStreamContext) -> None:
    """Every watching service back to the system time."""
    kv = await clock_bucket(js)
    if kv is not None:
        with contextlib.suppress(KeyNotFoundError):
            await kv.delete(KEY)


async def read_travel(js: JetStreamContext) -> Travel | None:
    """The platform's current travel (zero offset after a reset); ``None`` when nobody ever
    travelled (no bucket): then the process clock is left as it is (tests move it in-process)."""
    kv = await clock_bucket(js)
    if kv is None:
        return None
    try:
        entry = await kv.get(KEY)
    except KeyNotFoundError:
        return Travel(offset=timedelta(0))
    return Travel.decode(entry.value)


def _apply(clock: Clock, travel_value: Travel | None) -> None:
    if travel_value is None:
        return
    if travel_value.offset != clock.offset:
        log.warning(
            "clock: platform offset now %s (travelled to %s)",
            travel_value.offset,
            travel_value.travelled_to.isoformat() if travel_value.travelled_to else "now",
        )
    clock.set_offset(travel_value.offset)


async def follow_platform_clock(
    js: JetStreamContext, clock: Clock = CLOCK, *, resync: float = 5.0
) -> None:
    """Keep ``clock`` at the platform's offset until cancelled (a chassis worker).

    Waits for the bucket to exist (the CLI creates it on the first travel), then watches the
    key; every ``resync`` seconds without news it reads the key again, so a watch lost in a
    NATS restart cannot leave a stale offset behind for long.
    """
    while True:
        kv = await clock_bucket(js)
        if kv is None:
            await asyncio.sleep(WAKE_SECONDS / 2)
            continue
        watcher = await kv.watch(KEY)
        try:
            while True:
                try:
                    entry = await watcher.updates(timeout=resync)  # type: ignore[no-untyped-call]
                except TimeoutError:
                    _apply(clock, await read_travel(js))
                    continue
                if entry is None:  # the end of the initial values
                    continue
                if entry.operation in (KV_DEL, KV_PURGE):
                    _apply(clock, Travel(offset=timedelta(0)))
                else:
                    _apply(clock, Travel.decode(entry.value))
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]


async def join_platform_clock(js: JetStreamContext, env: str, clock: Clock = CLOCK) -> bool:
    """At service start: in production lock ``clock`` (no travel) and return False; otherwise
    take the platform's current offset now and return True (then follow it)."""
    if env == "production":
        clock.lock()
        return False
    _apply(clock, await read_travel(js))
    return True
