"""Routes of the catalogue as data (C1): offers and maintenance levels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from prisme_chassis import pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import catalogue, errors
from ..schemas import LevelIn, LevelOut, LevelPatch, OfferIn, OfferOut, OfferPatch
from .common import ADMIN, READ, _actor

router = APIRouter(tags=["contracts"])


@router.get("/v1/offers", responses=problems(errors.InvalidCursor))
async def list_offers(
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[OfferOut]:
    """C1: the offers and what each includes, in the catalogue's order."""
    return await catalogue.list_offers(conn, limit=limit, cursor=cursor)


@router.post(
    "/v1/offers",
    status_code=201,
    responses=problems(errors.UnknownCatalogueItems, errors.OfferExists),
)
async def create_offer(
    body: OfferIn, conn: Tx, request: Request, who: Principal = require_scopes(ADMIN)
) -> OfferOut:
    """C1 as data (admin): a new offer and the catalogue items it includes."""
    return await catalogue.create_offer(conn, body, _actor(who, request))


@router.patch(
    "/v1/offers/{code}", responses=problems(errors.OfferNotFound, errors.UnknownCatalogueItems)
)
async def update_offer(
    code: Annotated[str, Path(max_length=50)],
    body: OfferPatch,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(ADMIN),
) -> OfferOut:
    """C1 (admin): what an offer includes; applies to contract events from now on."""
    return await catalogue.update_offer(conn, code, body, _actor(who, request))


@router.get("/v1/levels", responses=problems(errors.InvalidCursor))
async def list_levels(
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[LevelOut]:
    """The maintenance levels ("niveau de prise en charge"); the price depends on them (B1)."""
    return await catalogue.list_levels(conn, limit=limit, cursor=cursor)


@router.post("/v1/levels", status_code=201, responses=problems(errors.LevelExists))
async def create_level(
    body: LevelIn, conn: Tx, request: Request, who: Principal = require_scopes(ADMIN)
) -> LevelOut:
    return await catalogue.create_level(conn, body, _actor(who, request))


@router.patch(
    "/v1/levels/{code}", responses=problems(errors.LevelNotFound, errors.DefaultLevelRequired)
)
async def update_level(
    code: Annotated[str, Path(max_length=50)],
    body: LevelPatch,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(ADMIN),
) -> LevelOut:
    return await catalogue.update_level(conn, code, body, _actor(who, request))
