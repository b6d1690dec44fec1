"""What a consumer of ``contract.ended`` has done for a year's ended contracts (C2, issue 12).

licence-svc, video-svc and billing-svc each serve ``GET /v1/year-end/{year}`` with this one
shape, so the dashboard can show the year-end's downstream progress line by line: how many
ended contracts of the year the service has processed, and how many of its own effects are
done and still to do (licence: accounts revoked, L3; video: links revoked, V3; billing:
contracts whose billing is closed). Comparing ``contracts_ended`` with contracts-svc's
``ended_total`` of the same year tells whether every ``contract.ended`` has reached it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import BaseModel, Field

#: The year in the path: the range contracts-svc accepts for a run (``POST /v1/year-end``);
#: anything else is a 422 validation problem.
YearPath = Annotated[int, Path(ge=2000, le=2999, description="The contract year (C2)")]


class YearEndEffects(BaseModel):
    """One service's effects of the ``contract.ended`` of a year's contracts, as committed."""

    year: int
    unit: Literal["accounts", "links", "contracts"] = Field(
        description="What ``done``, ``remaining`` and ``failed`` count"
    )
    contracts_ended: int = Field(
        description="Contracts of the year whose contract.ended this service has processed "
        "(year-end and cessation alike)"
    )
    done: int = Field(description="Effects committed for those contracts")
    remaining: int = Field(description="Effects still to do for those contracts")
    failed: int = Field(
        description="Of ``remaining``, those that wait for an operator (a dead job, a price "
        "missing from the book)"
    )
