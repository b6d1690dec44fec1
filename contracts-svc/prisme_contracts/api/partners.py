"""Routes of the listed partners (C3) and the services each provides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from prisme_chassis import pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import clients, errors
from ..errors import PartnerNotListed
from ..schemas import PartnerIn, PartnerOut, PartnerServicesIn, storable_text
from .common import READ, WRITE, _actor

router = APIRouter(tags=["contracts"])


@router.get("/v1/partners", responses=problems(errors.InvalidCursor))
async def list_partners(
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[PartnerOut]:
    """C3: the listed partners by name and the services each provides."""
    return await clients.list_partners(conn, limit=limit, cursor=cursor)


@router.post(
    "/v1/partners", status_code=201, responses=problems(errors.PartnerListed, errors.InvalidField)
)
async def add_partner(
    body: PartnerIn, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> PartnerOut:
    return await clients.add_partner(conn, body.name, body.services, _actor(who, request))


@router.put("/v1/partners/{name}/services", responses=problems(errors.PartnerNotListed))
async def set_partner_services(
    name: Annotated[str, Path(max_length=200)],
    body: PartnerServicesIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> PartnerOut:
    if not storable_text(name):
        raise errors.PartnerNotListed(f"partner {name!r} is not listed")
    return await clients.set_partner_services(conn, name, body.services, _actor(who, request))


@router.delete("/v1/partners/{name}", status_code=204, responses=problems(errors.PartnerNotListed))
async def remove_partner(
    name: str, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> None:
    if not storable_text(name):
        raise PartnerNotListed(f"partner {name!r} is not listed")
    await clients.remove_partner(conn, name, _actor(who, request))
