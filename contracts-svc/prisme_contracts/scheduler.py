"""The year-end scheduler (C2): at 00:00 Indian/Reunion on 1 January, close the past year.

On start-up it first catches up: any past year that still has active contracts, or whose run
was interrupted, is closed. Then it sleeps until the next turn of the year on the platform clock
(waking every second at most, so a travel is noticed) and runs the year-end for the year just over.
"""

from __future__ import annotations

import asyncio
import logging

from prisme_chassis import clock
from prisme_chassis.audit import Actor
from prisme_chassis.db import transaction

from . import cessation, domain, eligibility, year_end
from . import repository as repo
from .context import ContractsRuntime

log = logging.getLogger(__name__)

SCHEDULER = Actor.system("year-end-scheduler")


async def catch_up(rt: ContractsRuntime) -> list[int]:
    """Close every past year left open (missed turn of the year, interrupted run)."""
    current = clock.today().year
    async with transaction(rt.pool) as conn:
        years = await repo.years_with_active_before(conn, current)
    for year in years:
        result = await year_end.run(rt.pool, year, SCHEDULER, clock.now())
        log.info("year-end %s caught up: %d contracts ended", year, result.ended)
    return years


async def run(rt: ContractsRuntime) -> None:
    """Worker loop (restarted by the chassis supervisor if it crashes, e.g. database outage)."""
    tick = rt.settings.year_end_check_seconds
    await catch_up(rt)
    while True:
        due = domain.next_year_end_instant(clock.now())
        await clock.sleep_until(due, wake=min(tick, clock.WAKE_SECONDS))
        await catch_up(rt)


async def run_cessations(rt: ContractsRuntime) -> None:
    """Worker loop on the platform clock, every ``cessation_check_seconds``: end the contracts
    whose approved cessation date has come (C6), lapse expired eligibility overrides (C3/C4)."""
    while True:
        async with transaction(rt.pool) as conn:
            ended = await cessation.apply_due(conn, clock.now())
        async with transaction(rt.pool) as conn:
            lapsed = await eligibility.lapse_expired(conn, clock.now())
        if ended or lapsed:
            log.info("scheduled work: %d cessations applied, %d overrides lapsed", ended, lapsed)
            continue
        await asyncio.sleep(rt.settings.cessation_check_seconds)
