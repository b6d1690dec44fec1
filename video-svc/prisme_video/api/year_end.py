"""Route of video's share of the year-end (V3, C2)."""

from __future__ import annotations

from fastapi import APIRouter
from prisme_chassis.app import Read
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.year_end import YearEndEffects, YearPath

from .. import sharing
from .common import status_problems

router = APIRouter(tags=["videos"], responses=status_problems(401, 403, 422))


@router.get("/v1/year-end/{year}")
async def year_end_effects(
    year: YearPath, conn: Read, who: Principal = require_scopes("videos:read")
) -> YearEndEffects:
    """V3 at the year-end: the links of the year's ended contracts, revoked by that end and
    still live."""
    return await sharing.year_end_effects(conn, year)
