"""The year-end run (C2): every active contract of a year ends on 31 December (drafts of
that year, which can no longer be activated, are cancelled).

Set-based and crash-safe: each batch ends up to ``batch_size`` contracts in one SQL statement
(which also writes their audit rows), and the ``contract.ended`` outbox rows and the progress
counters are written in the same transaction. A crash loses at most an uncommitted batch;
running again picks up the contracts still active. A contract ends once (the update only
matches ``status = 'active'``), and its event id derives from its id and version, so a second
run can never publish a second ``contract.ended`` for it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import asyncpg
from prisme_chassis import audit
from prisme_chassis.audit import Actor
from prisme_chassis.bus import enqueue_many
from prisme_chassis.db import transaction
from prisme_events import ContractCancelled, ContractEnded

from . import domain
from . import repository as repo
from .errors import YearEndLocked, YearNotOver
from .facts import event_id
from .schemas import YearEndOut

log = logging.getLogger(__name__)

BATCH_SIZE = 1000


async def progress(conn: asyncpg.Connection, year: int) -> YearEndOut:
    run = await repo.get_year_end_run(conn, year)
    remaining = await repo.count_active(conn, year)
    ended_total = await repo.count_ended(conn, year)
    if run is None:
        return YearEndOut(
            year=year,
            status="not_started",
            started_by=None,
            started_at=None,
            finished_at=None,
            ended=0,
            remaining=remaining,
            batches=0,
            ended_total=ended_total,
        )
    return YearEndOut(
        year=year,
        status=run["status"],
        started_by=run["started_by"],
        started_at=run["started_at"],
        finished_at=run["finished_at"],
        ended=run["ended_count"],
        remaining=remaining,
        batches=run["batches"],
        ended_total=ended_total,
    )


def check_year_over(year: int, now: datetime) -> None:
    """C2: a year is closed only once it is over in Indian/Reunion time."""
    if year > domain.year_to_close(now):
        raise YearNotOver(
            f"year {year} is not over yet: contracts end on {domain.ends_at(year).isoformat()}",
        )


async def run(
    pool: asyncpg.Pool,
    year: int,
    actor: Actor,
    now: datetime,
    *,
    batch_size: int = BATCH_SIZE,
    lock_wait: float = 30.0,
) -> YearEndOut:
    """End every active contract of ``year``; idempotent, resumable, one event per contract."""
    check_year_over(year, now)
    async with transaction(pool) as conn:
        # Waits for in-flight activations of that year; later ones see the run and refuse.
        await repo.lock_year_exclusive(conn, year)
        await repo.open_year_end_run(conn, year, actor.sub)
        # who ran it, each time (a re-run resumes the same year's run)
        await audit.record(conn, actor, "year_end.run", target_type="year", target_id=year)
    ended_at = domain.ends_at(year)
    waited = 0.0
    while True:
        async with transaction(pool) as conn:
            rows = await repo.end_year_batch(conn, year, batch_size, ended_at, actor, now)
            await enqueue_many(conn, [_ended_event(r, ended_at) for r in rows])
        if rows:
            log.info("year-end %s: ended %d contracts", year, len(rows))
            continue
        async with transaction(pool) as conn:
            remaining = await repo.count_active(conn, year)
        if remaining == 0:
            break
        # Rows locked by a concurrent change (an amendment) or another runner: wait for them.
        if waited >= lock_wait:
            raise YearEndLocked(f"year-end {year}: {remaining} contracts stay locked; run it again")
        await asyncio.sleep(0.05)
        waited += 0.05
    async with transaction(pool) as conn:
        expired = await repo.cancel_drafts_of_year(conn, year, actor, now)
        await enqueue_many(conn, [_cancelled_event(r, ended_at) for r in expired])
        await repo.finish_year_end_run(conn, year)
        return await progress(conn, year)


def _ended_event(row: asyncpg.Record, ended_at: datetime) -> ContractEnded:
    renewal = row["renewal_id"]
    return ContractEnded(
        event_id=event_id(row["id"], row["version"]),
        contract_id=row["id"],
        client_id=row["client_id"],
        version=row["version"],
        offer=row["offer"],
        includes=list(row["includes"]),
        year=row["year"],
        reason="year_end",
        effective_date=row["end_date"],
        ended_at=ended_at,
        postes=row["postes"],
        renewal_contract_id=renewal,
        renewal_includes=list(row["renewal_includes"]) if renewal is not None else [],
    )


def _cancelled_event(row: asyncpg.Record, at: datetime) -> ContractCancelled:
    """C8: a draft left unactivated when its year ends expires."""
    return ContractCancelled(
        event_id=event_id(row["id"], row["version"]),
        contract_id=row["id"],
        client_id=row["client_id"],
        version=row["version"],
        offer=row["offer"],
        includes=list(row["includes"]),
        year=row["year"],
        reason="expired",
        cancelled_at=at,
        renewal_of=row["renewal_of"],
    )
