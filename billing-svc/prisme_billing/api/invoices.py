"""Routes reading invoices: the list, its totals, one invoice, its Factur-X (B7)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from prisme_chassis import pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.calendar import business_today
from prisme_chassis.errors import problems
from prisme_chassis.money import money_str
from pydantic import BaseModel, Field

from .. import errors, queries
from .. import repository as repo
from ..context import BillingRuntimeDep
from .documents import (
    _LIST_PROBLEMS,
    _PDF,
    DocumentQueryDep,
    InvoiceOut,
    PageQueryDep,
    _invoice,
    _number_key,
)

router = APIRouter(tags=["billing"])


class InvoiceQuery:
    """The filters of invoices: those of every document, and state, origin, overdue."""

    def __init__(
        self,
        base: DocumentQueryDep,
        status: Annotated[
            list[Literal["open", "paid", "payment_failed", "credited"]] | None,
            Query(max_length=4, description="Any of these states (open: to be paid)"),
        ] = None,
        purpose: Annotated[
            list[Literal["yearly", "additional", "one_off"]] | None,
            Query(
                max_length=3,
                description="yearly: the contract's year; additional: postes added; one_off: "
                "the month's work outside the contract (B9)",
            ),
        ] = None,
        overdue: Annotated[
            bool,
            Query(description="Only those past their due date (Réunion) with something to pay"),
        ] = False,
    ) -> None:
        self.filters = replace(
            base.filters,
            statuses=tuple(status or ()),
            purposes=tuple(purpose or ()),
            overdue_on=business_today() if overdue else None,
        )


InvoiceQueryDep = Annotated[InvoiceQuery, Depends()]


@router.get("/v1/invoices", responses=_LIST_PROBLEMS)
async def list_invoices(
    conn: Tx,
    query: InvoiceQueryDep,
    page: PageQueryDep,
    who: Principal = require_scopes("billing:read"),
) -> pagination.Page[InvoiceOut]:
    """Finalised invoices in number order (``order=-number``: newest first), a page at a time."""
    found = await queries.list_documents(conn, "invoice", query.filters, page)
    return pagination.Page[InvoiceOut].of(
        found, page.limit, key=_number_key, out=lambda f: _invoice(*f)
    )


class TotalsOut(BaseModel):
    """What the filters keep, all pages together."""

    count: int
    total_ttc: str
    outstanding: str = Field(description="Left to pay on the open ones (open, payment_failed)")
    currency: str = "EUR"


@router.get("/v1/invoices/totals", responses=problems(errors.InvalidListFilter))
async def invoice_totals(
    conn: Tx, query: InvoiceQueryDep, who: Principal = require_scopes("billing:read")
) -> TotalsOut:
    """How many invoices the same filters as ``GET /v1/invoices`` keep, their TTC total and
    what is left to pay on them (the accountant's figures above the list)."""
    row = await repo.document_totals(conn, "invoice", query.filters)
    return TotalsOut(
        count=row["count"],
        total_ttc=money_str(row["total_ttc"]),
        outstanding=money_str(row["outstanding"]),
    )


@router.get("/v1/invoices/{invoice_id}", responses=problems(errors.DocumentNotFound))
async def get_invoice(
    invoice_id: uuid.UUID, conn: Tx, who: Principal = require_scopes("billing:read")
) -> InvoiceOut:
    return _invoice(*await queries.get_document_with_emails(conn, "invoice", invoice_id))


@router.get(
    "/v1/invoices/{invoice_id}/pdf",
    response_class=Response,
    responses={**_PDF, **problems(errors.DocumentNotFound)},
)
async def invoice_pdf(
    invoice_id: uuid.UUID,
    conn: Tx,
    rt: BillingRuntimeDep,
    who: Principal = require_scopes("billing:read"),
) -> Response:
    """B7: the invoice as Factur-X (EN 16931)."""
    number, pdf = await queries.document_pdf(conn, "invoice", invoice_id, rt.settings)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{number}.pdf"'},
    )
