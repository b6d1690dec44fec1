"""Routes of contracts (C2): create, list, activate, renew, cancel, and their amendments."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from prisme_chassis import clock, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import errors, service
from ..context import contracts_runtime
from ..schemas import AmendmentOut, ContractOut, NewContract, RenewIn, Status
from .common import READ, WRITE, _actor

router = APIRouter(tags=["contracts"])


@router.post(
    "/v1/contracts",
    status_code=201,
    responses=problems(
        errors.UnknownLevel,
        errors.UnknownOffer,
        errors.UnknownClient,
        errors.StartDateOutOfRange,
        errors.ContractExistsForYear,
    ),
)
async def create_contract(
    body: NewContract, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> ContractOut:
    return await service.create_contract(conn, body, _actor(who, request), clock.today())


@router.get("/v1/contracts", responses=problems(errors.InvalidCursor))
async def list_contracts(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    status: Status | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2999)] = None,
    non_conforming: bool | None = None,
    offer: Annotated[str | None, Query(max_length=50, pattern=r"^[a-z0-9_]+$")] = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[ContractOut]:
    """Contracts, oldest first, a page at a time; ``non_conforming=true`` lists those flagged
    under C4."""
    return await service.list_contracts(
        conn,
        client_id=client_id,
        status=status,
        year=year,
        non_conforming=non_conforming,
        offer=offer,
        limit=limit,
        cursor=cursor,
    )


@router.get("/v1/contracts/{contract_id}", responses=problems(errors.ContractNotFound))
async def get_contract(
    contract_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> ContractOut:
    return await service.get(conn, contract_id)


@router.post(
    "/v1/contracts/{contract_id}/activate",
    responses=problems(
        errors.ContractNotFound,
        errors.ChangedMeanwhile,
        errors.NotADraft,
        errors.YearClosed,
        errors.YearOver,
        errors.NotEligible,
        errors.OfferUnpriced,
        errors.BillingUnavailable,
        errors.ContractExistsForYear,
        errors.UnknownOffer,
    ),
)
async def activate(
    contract_id: uuid.UUID, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> ContractOut:
    return await service.activate(
        conn,
        contract_id,
        _actor(who, request),
        clock.now(),
        price_check=contracts_runtime(request).context.price_check,
    )


@router.post(
    "/v1/contracts/{contract_id}/renew",
    status_code=201,
    responses=problems(
        errors.ContractNotFound,
        errors.NotRenewable,
        errors.YearOver,
        errors.ContractExistsForYear,
        errors.UnknownOffer,
    ),
)
async def renew(
    contract_id: uuid.UUID,
    conn: Tx,
    request: Request,
    body: RenewIn | None = None,
    who: Principal = require_scopes(WRITE),
) -> ContractOut:
    return await service.renew(
        conn,
        contract_id,
        body.offer if body else None,
        _actor(who, request),
        clock.today(),
    )


@router.post(
    "/v1/contracts/{contract_id}/cancel",
    responses=problems(errors.ContractNotFound, errors.NotADraft),
)
async def cancel(
    contract_id: uuid.UUID, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> ContractOut:
    return await service.cancel(conn, contract_id, _actor(who, request), clock.now())


@router.get(
    "/v1/contracts/{contract_id}/amendments",
    responses=problems(errors.ContractNotFound, errors.InvalidCursor),
)
async def list_amendments(
    contract_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[AmendmentOut]:
    """C5: the contract's amendments, in the order they were made."""
    return await service.amendments(conn, contract_id, limit=limit, cursor=cursor)
