"""Routes of interventions (C7)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from prisme_chassis import clock, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from prisme_chassis.wire import rfc3339_text
from pydantic import BeforeValidator

from .. import errors, interventions
from ..errors import InvalidField
from ..schemas import InterventionIn, InterventionOut, InterventionPage
from .common import READ, WRITE, _actor

router = APIRouter(tags=["contracts"])


@router.post(
    "/v1/clients/{client_id}/interventions",
    status_code=201,
    responses=problems(errors.ClientNotFound, errors.InvalidIntervention),
)
async def record_intervention(
    client_id: uuid.UUID,
    body: InterventionIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> InterventionOut:
    """C7: a remote or on-site intervention; billable items go to billing (B9)."""
    return await interventions.record(conn, client_id, body, _actor(who, request), clock.now())


@router.get("/v1/interventions", responses=problems(errors.InvalidCursor, errors.InvalidField))
async def list_interventions(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    since: Annotated[
        datetime | None, BeforeValidator(rfc3339_text), Query(description="Started at or after")
    ] = None,
    cursor: pagination.Cursor = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    who: Principal = require_scopes(READ),
) -> InterventionPage:
    if since is not None and since.tzinfo is None:
        raise InvalidField(
            "since doit porter un fuseau horaire",
            errors=[{"field": "since", "detail": "e.g. 2026-03-01T00:00:00+04:00"}],
        )
    return await interventions.list_page(
        conn, client_id=client_id, since=since, cursor=cursor, limit=limit
    )
