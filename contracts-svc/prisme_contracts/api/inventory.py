"""Routes of a practice's inventory: users, network and assets (changes amend the contract, C5)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from prisme_chassis import clock, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from prisme_chassis.wire import IsoDate

from .. import clients, errors, inventory
from ..errors import InvalidField
from ..schemas import (
    AmendmentIn,
    AssetChanged,
    AssetOut,
    NetworkIn,
    NetworkOut,
    NewAsset,
    NewUser,
    Removed,
    UserChanged,
    UserOut,
    storable_text,
)
from .common import READ, WRITE, _actor

router = APIRouter(tags=["contracts"])


def _amendment(effective_date: date | None, note: str | None) -> AmendmentIn:
    if note is not None and not storable_text(note):
        raise InvalidField("note must not contain NUL characters or unpaired surrogates")
    return AmendmentIn(effective_date=effective_date, note=note)


@router.post(
    "/v1/clients/{client_id}/users",
    status_code=201,
    responses=problems(errors.ClientNotFound, errors.InvalidField, errors.UserEmailTaken),
)
async def add_user(
    client_id: uuid.UUID,
    body: NewUser,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> UserChanged:
    return await inventory.add_user(conn, client_id, body, _actor(who, request), clock.today())


@router.get(
    "/v1/clients/{client_id}/users",
    responses=problems(errors.ClientNotFound, errors.InvalidCursor),
)
async def list_users(
    client_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[UserOut]:
    """The practice's current users, in the order they were added."""
    return await inventory.list_users(conn, client_id, limit=limit, cursor=cursor)


@router.put(
    "/v1/clients/{client_id}/users/{user_id}",
    responses=problems(
        errors.ClientNotFound, errors.InvalidField, errors.UserNotFound, errors.UserEmailTaken
    ),
)
async def change_user(
    client_id: uuid.UUID,
    user_id: uuid.UUID,
    body: NewUser,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> UserChanged:
    return await inventory.change_user(
        conn, client_id, user_id, body, _actor(who, request), clock.today()
    )


@router.delete(
    "/v1/clients/{client_id}/users/{user_id}",
    responses=problems(errors.ClientNotFound, errors.InvalidField, errors.UserNotFound),
)
async def remove_user(
    client_id: uuid.UUID,
    user_id: uuid.UUID,
    conn: Tx,
    request: Request,
    effective_date: IsoDate | None = None,
    note: Annotated[str | None, Query(max_length=2000)] = None,
    who: Principal = require_scopes(WRITE),
) -> Removed:
    return await inventory.remove_user(
        conn,
        client_id,
        user_id,
        _amendment(effective_date, note),
        _actor(who, request),
        clock.today(),
    )


@router.put(
    "/v1/clients/{client_id}/network",
    responses=problems(errors.ClientNotFound, errors.InvalidField),
)
async def put_network(
    client_id: uuid.UUID,
    body: NetworkIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> NetworkOut:
    return await clients.put_network(conn, client_id, body, _actor(who, request))


@router.get(
    "/v1/clients/{client_id}/network",
    responses=problems(errors.ClientNotFound, errors.NetworkNotDeclared),
)
async def get_network(
    client_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> NetworkOut:
    return await clients.get_network(conn, client_id)


@router.post(
    "/v1/clients/{client_id}/assets",
    status_code=201,
    responses=problems(errors.ClientNotFound, errors.InvalidField, errors.AssetNameTaken),
)
async def add_asset(
    client_id: uuid.UUID,
    body: NewAsset,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> AssetChanged:
    return await inventory.add_asset(conn, client_id, body, _actor(who, request), clock.today())


@router.get(
    "/v1/clients/{client_id}/assets",
    responses=problems(errors.ClientNotFound, errors.InvalidCursor),
)
async def list_assets(
    client_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[AssetOut]:
    """The practice's current assets (C5 inventory), in the order they were added."""
    return await inventory.list_assets(conn, client_id, limit=limit, cursor=cursor)


@router.put(
    "/v1/clients/{client_id}/assets/{asset_id}",
    responses=problems(
        errors.ClientNotFound, errors.InvalidField, errors.AssetNotFound, errors.AssetNameTaken
    ),
)
async def change_asset(
    client_id: uuid.UUID,
    asset_id: uuid.UUID,
    body: NewAsset,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> AssetChanged:
    return await inventory.change_asset(
        conn, client_id, asset_id, body, _actor(who, request), clock.today()
    )


@router.delete(
    "/v1/clients/{client_id}/assets/{asset_id}",
    responses=problems(errors.ClientNotFound, errors.InvalidField, errors.AssetNotFound),
)
async def remove_asset(
    client_id: uuid.UUID,
    asset_id: uuid.UUID,
    conn: Tx,
    request: Request,
    effective_date: IsoDate | None = None,
    note: Annotated[str | None, Query(max_length=2000)] = None,
    who: Principal = require_scopes(WRITE),
) -> Removed:
    return await inventory.remove_asset(
        conn,
        client_id,
        asset_id,
        _amendment(effective_date, note),
        _actor(who, request),
        clock.today(),
    )
