"""Routes of cessation (C6): requests with their proof, and the four-eyes decision (O2)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from prisme_chassis import clock, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from prisme_chassis.wire import IsoDate

from .. import cessation, domain, errors
from ..context import ContractsRuntimeDep, contracts_runtime
from ..schemas import DecisionIn, TerminationOut
from .common import APPROVE, READ, WRITE, _actor

router = APIRouter(tags=["contracts"])


def _filename(name: str | None) -> str | None:
    """The uploaded file's name as given, made storable (it is only shown back, never used as a path)."""
    if name is None:
        return None
    cleaned = "".join(ch for ch in name if ch != "\x00").encode("utf-8", "replace").decode("utf-8")
    return cleaned[:255] or None


@router.post(
    "/v1/contracts/{contract_id}/terminations",
    status_code=201,
    responses=problems(
        errors.ContractNotFound,
        errors.ContractNotActive,
        errors.TerminationReasonRefused,
        errors.EffectiveDateOutOfRange,
        errors.TerminationPending,
        errors.DocumentTooLarge,
        errors.DocumentTypeRefused,
        errors.InvalidField,
    ),
)
async def request_termination(
    contract_id: uuid.UUID,
    conn: Tx,
    request: Request,
    # min_length: FastAPI reads an empty form field as a missing one (a 422 either way)
    reason: Annotated[str, Form(min_length=1, max_length=50)],
    effective_date: Annotated[IsoDate, Form()],
    document: Annotated[
        UploadFile, File(description="Official proof of cessation: PDF, JPEG or PNG, ≤ 10 MB")
    ],
    who: Principal = require_scopes(WRITE),
) -> TerminationOut:
    data = await document.read(domain.MAX_DOCUMENT_BYTES + 1)
    return await cessation.request(
        conn,
        contract_id,
        reason=reason,
        effective_date=effective_date,
        document=data,
        document_name=_filename(document.filename),
        actor=_actor(who, request),
        today=clock.today(),
        keyring=contracts_runtime(request).context.documents,
    )


@router.get("/v1/terminations", responses=problems(errors.InvalidCursor))
async def list_terminations(
    conn: Tx,
    status: Literal["pending", "approved", "rejected", "withdrawn"] | None = None,
    contract_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[TerminationOut]:
    """C6/O2: cessation requests, oldest first, a page at a time; ``status=pending`` is the
    four-eyes queue."""
    return await cessation.list_requests(
        conn,
        status=status,
        contract_id=contract_id,
        client_id=client_id,
        limit=limit,
        cursor=cursor,
    )


@router.get("/v1/terminations/{termination_id}", responses=problems(errors.TerminationNotFound))
async def get_termination(
    termination_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> TerminationOut:
    return await cessation.get(conn, termination_id)


@router.get(
    "/v1/terminations/{termination_id}/document",
    response_class=Response,
    responses=problems(errors.TerminationNotFound),
)
async def get_termination_document(
    termination_id: uuid.UUID,
    conn: Tx,
    rt: ContractsRuntimeDep,
    who: Principal = require_scopes(READ),
) -> Response:
    data, media_type, _name = await cessation.document(conn, termination_id, rt.context.documents)
    return Response(
        content=data, media_type=media_type, headers={"Content-Disposition": "attachment"}
    )


@router.post(
    "/v1/terminations/{termination_id}/approve",
    responses=problems(
        errors.TerminationNotFound,
        errors.TerminationDecided,
        errors.SelfApproval,
        errors.ContractNotActive,
    ),
)
async def approve_termination(
    termination_id: uuid.UUID,
    body: DecisionIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(APPROVE),
) -> TerminationOut:
    """C6/O2: another operator approves; a future effective date schedules the ending."""
    return await cessation.approve(
        conn, termination_id, _actor(who, request), body.note, clock.now()
    )


@router.post(
    "/v1/terminations/{termination_id}/reject",
    responses=problems(errors.TerminationNotFound, errors.TerminationDecided, errors.SelfApproval),
)
async def reject_termination(
    termination_id: uuid.UUID,
    body: DecisionIn,
    conn: Tx,
    request: Request,
    who: Principal = require_scopes(APPROVE),
) -> TerminationOut:
    """C6/O2: another operator rejects; the contract is free for a new request."""
    return await cessation.reject(
        conn, termination_id, _actor(who, request), body.note, clock.now()
    )


@router.post(
    "/v1/terminations/{termination_id}/withdraw",
    responses=problems(
        errors.TerminationNotFound, errors.TerminationDecided, errors.NotTheRequester
    ),
)
async def withdraw_termination(
    termination_id: uuid.UUID, conn: Tx, request: Request, who: Principal = require_scopes(WRITE)
) -> TerminationOut:
    """C6: the requester withdraws a pending request."""
    return await cessation.withdraw(conn, termination_id, _actor(who, request), clock.now())
