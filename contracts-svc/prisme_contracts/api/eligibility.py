"""Routes of eligibility (C3/C4): the verdict, a re-check, overrides."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from prisme_chassis import clock
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import eligibility, errors
from ..schemas import Criterion, EligibilityOut, OverrideIn
from .common import READ, WRITE, _actor

router = APIRouter(tags=["contracts"])


@router.get("/v1/clients/{client_id}/eligibility", responses=problems(errors.ClientNotFound))
async def get_eligibility(
    client_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> EligibilityOut:
    return await eligibility.get(conn, client_id)


@router.post("/v1/clients/{client_id}/eligibility/check", responses=problems(errors.ClientNotFound))
async def recheck_eligibility(
    client_id: uuid.UUID, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> EligibilityOut:
    """Re-check now; active contracts whose conformity changed are flagged (C4) and published."""
    return await eligibility.recheck(conn, client_id, _actor(who, request))


@router.post(
    "/v1/clients/{client_id}/eligibility/override",
    status_code=201,
    responses=problems(
        errors.ClientNotFound,
        errors.OverrideExpiryPassed,
        errors.OverrideNotNeeded,
        errors.OverrideExists,
    ),
)
async def override_eligibility(
    client_id: uuid.UUID,
    body: OverrideIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> EligibilityOut:
    """C3: override one failed criterion, with a reason and an optional expiry."""
    return await eligibility.record_override(
        conn,
        client_id,
        body.criterion,
        body.reason,
        body.expires_at,
        _actor(who, request),
        clock.now(),
    )


@router.delete(
    "/v1/clients/{client_id}/eligibility/override",
    responses=problems(errors.ClientNotFound, errors.OverrideNotFound),
)
async def revoke_override(
    client_id: uuid.UUID,
    criterion: Annotated[Criterion, Query()],
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> EligibilityOut:
    return await eligibility.revoke_override(conn, client_id, criterion, _actor(who, request))
