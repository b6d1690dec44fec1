"""``GET /v1/clock`` on every service: what time this service's clock reads (DESIGN §4).

Lets an operator (and the tests) see that a ``prisme clock travel`` reached every service.
"""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel

from . import clock
from .auth import Principal, require_scopes


class ClockOut(BaseModel):
    now: datetime
    business_day: date
    offset_seconds: float
    #: True in production: this service never travels.
    locked: bool


def clock_router() -> APIRouter:
    router = APIRouter(tags=["clock"])

    @router.get("/v1/clock")
    async def read_clock(who: Principal = require_scopes("admin")) -> ClockOut:
        """This service's now and business day (Indian/Reunion), and its offset from the
        system time (non-zero only after ``prisme clock travel``, never in production)."""
        moment = clock.now()
        return ClockOut(
            now=moment,
            business_day=clock.business_day(moment),
            offset_seconds=clock.CLOCK.offset.total_seconds(),
            locked=clock.CLOCK.locked,
        )

    return router
