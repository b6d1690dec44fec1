"""Routes of the Graph work's progress: the jobs by state, and the year-end's effects (L3)."""

from __future__ import annotations

from fastapi import APIRouter
from prisme_chassis.app import Read, Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.year_end import YearEndEffects, YearPath

from .. import service
from ..schemas import (
    JobSummary,
)

router = APIRouter(tags=["licences"])


@router.get("/v1/jobs/summary")
async def job_summary(conn: Tx, who: Principal = require_scopes("licences:read")) -> JobSummary:
    return JobSummary(**await service.job_summary(conn))


@router.get("/v1/year-end/{year}")
async def year_end_effects(
    year: YearPath, conn: Read, who: Principal = require_scopes("licences:read")
) -> YearEndEffects:
    """L3 at the year-end: the accounts of the year's ended contracts, revoked and still to
    revoke (``failed``: a dead Graph job an operator retries on ``/v1/jobs``)."""
    return await service.year_end_effects(conn, year)
