"""Invoices and credit notes as the API shows them, and the filters and pages of their lists."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import Depends, Query
from prisme_chassis import pagination
from prisme_chassis.errors import problems
from prisme_chassis.money import money_str
from prisme_chassis.wire import IsoDate
from pydantic import BaseModel, Field

from .. import domain, errors, queries
from .. import repository as repo


class LineOut(BaseModel):
    """A document line: ``quantity`` × ``unit_ttc`` = ``total_ttc`` (since API 1.1; before,
    ``quantity`` held the number of postes and ``unit_ttc`` the line total)."""

    description: str
    quantity: str = Field(description="Billed quantity (decimal string): 1 for a prorated line")
    unit: Literal["forfait", "heure"]
    unit_ht: str
    unit_ttc: str
    total_ht: str
    total_vat: str
    total_ttc: str
    period_start: date
    period_end: date
    postes: int | None = Field(description="Postes the yearly price is for (B1), if any")
    yearly_ttc: str | None = Field(description="Yearly TTC price a prorated line is a share of")
    prorata: str | None = Field(
        description='e.g. "292 jours sur 365, du 15/03/2026 au 31/12/2026" (B2)'
    )


class EmailOut(BaseModel):
    """B11: one e-mail of the document to the practice's manager (with its Factur-X)."""

    id: uuid.UUID
    purpose: Literal["issued", "resend", "reminder"] = Field(
        description="issued: sent once at finalisation; resend: asked by an operator; "
        "reminder: B10 reminder at +7 or +21 days"
    )
    reminder_stage: int | None = Field(description="days after the due date, for a reminder")
    status: Literal["queued", "sent", "failed"]
    requested_by: str
    requested_at: datetime
    recipient: str | None
    sent_at: datetime | None
    message_id: str = Field(description="the Message-ID of the e-mail")
    last_error: str | None


def _emails(rows: list[asyncpg.Record]) -> list[EmailOut]:
    return [
        EmailOut(
            id=r["id"],
            purpose=r["purpose"],
            reminder_stage=r["reminder_stage"],
            status=r["status"],
            requested_by=r["requested_by"],
            requested_at=r["requested_at"],
            recipient=r["recipient"],
            sent_at=r["sent_at"],
            message_id=r["message_id"],
            last_error=r["last_error"],
        )
        for r in rows
    ]


class InvoiceOut(BaseModel):
    id: uuid.UUID
    number: str
    contract_id: uuid.UUID | None
    client_id: uuid.UUID
    client_name: str = Field(
        description="The buyer's name as on the document (the practice's name when it was "
        "finalised; since API 2.1)"
    )
    issue_date: date
    due_date: date | None
    status: str
    total_ht: str
    total_vat: str
    total_ttc: str
    amount_paid: str
    currency: str
    lines: list[LineOut]
    emails: list[EmailOut] = Field(
        default_factory=list, description="B11: its e-mails to the practice, oldest first"
    )


class CreditNoteOut(InvoiceOut):
    invoice_id: uuid.UUID


def _lines(rows: list[asyncpg.Record]) -> list[LineOut]:
    return [
        LineOut(
            description=r["description"],
            quantity=domain.quantity_str(r["quantity"]),
            unit="heure" if r["unit_code"] == domain.UNIT_HOUR else "forfait",
            unit_ht=money_str(r["unit_ht"]),
            unit_ttc=money_str(r["unit_ttc"]),
            total_ht=money_str(r["total_ht"]),
            total_vat=money_str(r["total_vat"]),
            total_ttc=money_str(r["total_ttc"]),
            period_start=r["period_start"],
            period_end=r["period_end"],
            postes=r["postes"],
            yearly_ttc=None if r["yearly_ttc"] is None else money_str(r["yearly_ttc"]),
            prorata=r["prorata"],
        )
        for r in rows
    ]


def _invoice(
    doc: asyncpg.Record,
    lines: list[asyncpg.Record],
    emails: list[asyncpg.Record] | None = None,
) -> InvoiceOut:
    return InvoiceOut(
        id=doc["id"],
        number=doc["number"],
        contract_id=doc["contract_id"],
        client_id=doc["client_id"],
        client_name=doc["buyer"]["name"],
        issue_date=doc["issue_date"],
        due_date=doc["due_date"],
        status=doc["status"],
        total_ht=money_str(doc["total_ht"]),
        total_vat=money_str(doc["total_vat"]),
        total_ttc=money_str(doc["total_ttc"]),
        amount_paid=money_str(doc["amount_paid"]),
        currency=doc["currency"],
        lines=_lines(lines),
        emails=_emails(emails or []),
    )


def _credit_note(
    doc: asyncpg.Record, lines: list[asyncpg.Record], emails: list[asyncpg.Record] | None = None
) -> CreditNoteOut:
    return CreditNoteOut(**_invoice(doc, lines, emails).model_dump(), invoice_id=doc["invoice_id"])


class DocumentQuery:
    """The filters both document lists share (query parameters), as repository filters."""

    def __init__(
        self,
        client_id: uuid.UUID | None = None,
        contract_id: uuid.UUID | None = None,
        number: Annotated[
            str | None, Query(max_length=64, description="Only the document of this number")
        ] = None,
        year: Annotated[
            int | None, Query(ge=2000, le=2100, description="Year of the number series")
        ] = None,
        q: Annotated[
            str | None,
            Query(
                max_length=200,
                description="Text in the number or the practice's name or SIREN "
                "(case-insensitive, anywhere)",
            ),
        ] = None,
        issued_from: Annotated[IsoDate | None, Query(description="Issued on or after")] = None,
        issued_to: Annotated[IsoDate | None, Query(description="Issued on or before")] = None,
    ) -> None:
        if q is not None and not _storable(q):
            raise errors.InvalidListFilter(
                "q ne doit contenir ni caractère NUL ni demi-paire de substitution",
                errors=[{"field": "q", "detail": "NUL or unpaired surrogate"}],
            )
        if issued_from is not None and issued_to is not None and issued_from > issued_to:
            raise errors.InvalidListFilter(
                "issued_from est postérieure à issued_to",
                errors=[{"field": "issued_from", "detail": "after issued_to"}],
            )
        self.filters = repo.DocumentFilters(
            client_id=client_id,
            contract_id=contract_id,
            number=number,
            year=year,
            q=q.strip() or None if q else None,
            issued_from=issued_from,
            issued_to=issued_to,
        )


DocumentQueryDep = Annotated[DocumentQuery, Depends()]


class PageQuery:
    """Where a page of documents starts, its order and its size."""

    def __init__(
        self,
        order: Annotated[
            Literal["number", "-number"],
            Query(description="number: oldest number first; -number: newest first"),
        ] = "number",
        limit: pagination.Limit = pagination.DEFAULT_LIMIT,
        cursor: pagination.Cursor = None,
    ) -> None:
        self.descending = order == "-number"
        self.limit = limit
        self.after = pagination.decode(cursor, pagination.int32, pagination.int32)


PageQueryDep = Annotated[PageQuery, Depends()]


_LIST_PROBLEMS = problems(pagination.InvalidCursor, errors.InvalidListFilter)


def _storable(text: str) -> bool:
    """PostgreSQL text holds neither NUL characters nor unpaired surrogates."""
    return "\x00" not in text and not any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def _number_key(found: queries.Found) -> tuple[int, int]:
    return found[0]["series_year"], found[0]["sequence"]


_PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "Factur-X PDF/A-3"}
}
