"""What the consumers of ``contract.ended`` have done at a year-end (issue 12).

licence-svc, video-svc and billing-svc answer ``GET /v1/year-end/{year}`` alike; the
dashboard reads it with its own model (never the services' packages).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from .base import ServiceClient

#: the progress box is refreshed every second: a service slower than this is shown unavailable
#: for this refresh rather than holding the whole box
READ_TIMEOUT = 2.0


class YearEndEffects(BaseModel):
    """One service's effects of the year's ``contract.ended``: how many contracts it has
    processed, its own effects done, still to do, and of those the failed ones."""

    year: int
    unit: Literal["accounts", "links", "contracts"]
    contracts_ended: int
    done: int
    remaining: int
    failed: int


class ContractEndConsumer(ServiceClient):
    """A service that acts on ``contract.ended``: its year-end effects."""

    async def year_end_effects(self, year: int) -> YearEndEffects:
        response = await self.request("GET", f"/v1/year-end/{year}", timeout=READ_TIMEOUT)
        return YearEndEffects.model_validate(response.json())
