"""Routes of the year-end run (C2)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prisme_chassis import clock
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import errors, year_end
from ..context import ContractsRuntimeDep
from ..schemas import YearEndIn, YearEndOut
from .common import READ, WRITE, _actor

router = APIRouter(tags=["contracts"])


@router.post("/v1/year-end", responses=problems(errors.YearNotOver, errors.YearEndLocked))
async def run_year_end(
    body: YearEndIn,
    rt: ContractsRuntimeDep,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> YearEndOut:
    """End every active contract of ``year`` (idempotent; commits batch by batch)."""
    batch = rt.settings.year_end_batch_size
    return await year_end.run(
        rt.pool, body.year, _actor(who, request), clock.now(), batch_size=batch
    )


@router.get("/v1/year-end/{year}")
async def year_end_progress(
    year: int, conn: Tx, who: Principal = require_scopes(READ)
) -> YearEndOut:
    return await year_end.progress(conn, year)
