"""Routes reading credit notes: the list, one credit note, its Factur-X (B7)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from prisme_chassis import pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import errors, queries
from ..context import BillingRuntimeDep
from .documents import (
    _LIST_PROBLEMS,
    _PDF,
    CreditNoteOut,
    DocumentQueryDep,
    PageQueryDep,
    _credit_note,
    _number_key,
)

router = APIRouter(tags=["billing"])


@router.get("/v1/credit-notes", responses=_LIST_PROBLEMS)
async def list_credit_notes(
    conn: Tx,
    query: DocumentQueryDep,
    page: PageQueryDep,
    invoice_id: Annotated[
        uuid.UUID | None, Query(description="Credit notes of this invoice")
    ] = None,
    purpose: Annotated[
        list[Literal["cessation", "correction"]] | None,
        Query(
            max_length=2,
            description="cessation: a contract ended early (B5); correction: four eyes (B6)",
        ),
    ] = None,
    who: Principal = require_scopes("billing:read"),
) -> pagination.Page[CreditNoteOut]:
    """Credit notes (A series) in number order, a page at a time."""
    filters = replace(query.filters, invoice_id=invoice_id, purposes=tuple(purpose or ()))
    found = await queries.list_documents(conn, "credit_note", filters, page)
    return pagination.Page[CreditNoteOut].of(
        found, page.limit, key=_number_key, out=lambda f: _credit_note(*f)
    )


@router.get(
    "/v1/credit-notes/{note_id}/pdf",
    response_class=Response,
    responses={**_PDF, **problems(errors.DocumentNotFound)},
)
async def credit_note_pdf(
    note_id: uuid.UUID,
    conn: Tx,
    rt: BillingRuntimeDep,
    who: Principal = require_scopes("billing:read"),
) -> Response:
    number, pdf = await queries.document_pdf(conn, "credit_note", note_id, rt.settings)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )


@router.get("/v1/credit-notes/{note_id}", responses=problems(errors.DocumentNotFound))
async def get_credit_note(
    note_id: uuid.UUID, conn: Tx, who: Principal = require_scopes("billing:read")
) -> CreditNoteOut:
    return _credit_note(*await queries.get_document_with_emails(conn, "credit_note", note_id))
