"""The year-end scheduler (C2): at 00:00 Indian/Reunion on 1 January, close the past year.

On start-up it first catches up: any past year that still has active contracts, or whose run
was interrupted, is closed. Then it sleeps until the next turn of the year (waking at least
``year_end_check_seconds``, so a changed clock is noticed) and runs the year-end for the year just over.
"""

from __future__ import annotations

import asyncio
import logging

from prisme_chassis.app import Runtime
from prisme_chassis.db import transaction

from . import domain, year_end
from . import repository as repo
from .clock import Clock
from .facts import Actor

log = logging.getLogger(__name__)

SCHEDULER = Actor(sub="system:year-end-scheduler", source="scheduler")


def clock_of(rt: Runtime) -> Clock:
    clock = rt.state.get("clock")
    if not isinstance(clock, Clock):
        clock = Clock()
        rt.state["clock"] = clock
    return clock


async def catch_up(rt: Runtime) -> list[int]:
    """Close every past year left open (missed turn of the year, interrupted run)."""
    clock = clock_of(rt)
    current = clock.today().year
    async with transaction(rt.pool) as conn:
        years = await repo.years_with_active_before(conn, current)
    for year in years:
        result = await year_end.run(rt.pool, year, SCHEDULER, clock.now())
        log.info("year-end %s caught up: %d contracts ended", year, result.ended)
    return years


async def run(rt: Runtime) -> None:
    """Worker loop (restarted by the chassis supervisor if it crashes, e.g. database outage)."""
    clock = clock_of(rt)
    tick = float(getattr(rt.settings, "year_end_check_seconds", 60.0))
    await catch_up(rt)
    while True:
        now = clock.now()
        due = domain.next_year_end_instant(now)
        await asyncio.sleep(min(tick, max(0.0, (due - now).total_seconds())))
        if clock.now() >= due:
            await catch_up(rt)
