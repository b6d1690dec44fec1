"""Route of billing's share of the year-end (C2)."""

from __future__ import annotations

from fastapi import APIRouter
from prisme_chassis.app import Read
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.year_end import YearEndEffects, YearPath

from .. import service

router = APIRouter(tags=["billing"])


@router.get("/v1/year-end/{year}")
async def year_end_effects(
    year: YearPath, conn: Read, who: Principal = require_scopes("billing:read")
) -> YearEndEffects:
    """C2 at the year-end: the year's ended contracts and those whose billing is closed
    (``failed``: a charge waits for a price the book does not have, B1)."""
    return await service.year_end_effects(conn, year)
