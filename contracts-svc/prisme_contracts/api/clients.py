"""Routes of the practices: create, search, read, correct (C8)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from prisme_chassis import pagination
from prisme_chassis.app import Read, Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import clients, errors
from ..errors import InvalidField
from ..schemas import ClientOut, ClientPatch, NewClient, storable_text
from .common import READ, WRITE, _actor

router = APIRouter(tags=["contracts"])


@router.post("/v1/clients", status_code=201, responses=problems(errors.InvalidField))
async def create_client(
    body: NewClient, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> ClientOut:
    return await clients.create_client(conn, body, _actor(who, request))


@router.get("/v1/clients", responses=problems(errors.InvalidCursor, errors.InvalidField))
async def list_clients(
    conn: Read,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Finds a practice by name, SIREN, city or a user's e-mail "
            "(case-insensitive, anywhere in the text; SIREN by its first digits)",
        ),
    ] = None,
    id: Annotated[
        list[uuid.UUID] | None, Query(max_length=200, description="Only these practices")
    ] = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[ClientOut]:
    """Practices, oldest first, a page at a time (``next_cursor`` given back as ``cursor``)."""
    if q is not None and not storable_text(q):
        raise InvalidField("q must not contain NUL characters or unpaired surrogates")
    return await clients.list_clients(conn, limit, cursor=cursor, q=q, ids=id)


@router.get("/v1/clients/{client_id}", responses=problems(errors.ClientNotFound))
async def get_client(
    client_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> ClientOut:
    return await clients.get_client(conn, client_id)


@router.patch(
    "/v1/clients/{client_id}", responses=problems(errors.ClientNotFound, errors.InvalidField)
)
async def correct_client(
    client_id: uuid.UUID,
    body: ClientPatch,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(WRITE),
) -> ClientOut:
    """C8: correct the practice's identity (audited; re-checks C3 on a new postal code)."""
    return await clients.correct_client(conn, client_id, body, _actor(who, request))
