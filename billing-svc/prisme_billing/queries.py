"""Read use cases: documents as the API shows them, and their Factur-X file."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import asyncpg

from . import documents
from . import repository as repo
from .errors import DocumentNotFound
from .settings import BillingSettings


def seller(settings: BillingSettings) -> documents.Seller:
    """B7: the seller's identity comes from settings."""
    return documents.Seller(
        legal_name=settings.seller_legal_name,
        trade_name=settings.seller_trade_name,
        legal_form=settings.seller_legal_form,
        siren=settings.seller_siren,
        vat_id=settings.seller_vat_id,
        address=settings.seller_address,
        postal_code=settings.seller_postal_code,
        city=settings.seller_city,
        email=settings.seller_email,
        phone=settings.seller_phone,
        iban=settings.seller_iban,
        bic=settings.seller_bic,
        late_penalty=settings.late_penalty(),
    )


#: A listed document with its lines and its e-mails.
Found = tuple[asyncpg.Record, list[asyncpg.Record], list[asyncpg.Record]]


class ListQuery(Protocol):
    """Where a page starts, its order and size (the route's ``DocumentQuery``)."""

    after: tuple[Any, ...] | None
    descending: bool
    limit: int


async def list_documents(
    conn: asyncpg.Connection, kind: str, filters: repo.DocumentFilters, page: ListQuery
) -> list[Found]:
    """A page of documents (one more than ``page.limit``, to tell there is a next page), each
    with its lines and its e-mails (B11)."""
    after = (int(page.after[0]), int(page.after[1])) if page.after else None
    docs = await repo.documents(
        conn, kind, filters, after=after, descending=page.descending, limit=page.limit + 1
    )
    ids = [d["id"] for d in docs]
    lines = await repo.lines(conn, ids)
    emails = await repo.mailings_of(conn, ids)
    return [(d, lines[d["id"]], emails.get(d["id"], [])) for d in docs]


async def get_document(
    conn: asyncpg.Connection, kind: str, doc_id: uuid.UUID
) -> tuple[asyncpg.Record, list[asyncpg.Record]]:
    doc = await repo.document(conn, doc_id)
    if doc is None or doc["kind"] != kind or doc["status"] == "draft":
        raise DocumentNotFound(f"no such {kind.replace('_', ' ')}", id=doc_id)
    return doc, (await repo.lines(conn, [doc_id]))[doc_id]


async def get_document_with_emails(
    conn: asyncpg.Connection, kind: str, doc_id: uuid.UUID
) -> tuple[asyncpg.Record, list[asyncpg.Record], list[asyncpg.Record]]:
    doc, lines = await get_document(conn, kind, doc_id)
    return doc, lines, (await repo.mailings_of(conn, [doc_id])).get(doc_id, [])


async def document_pdf(
    conn: asyncpg.Connection, kind: str, doc_id: uuid.UUID, settings: BillingSettings
) -> tuple[str, bytes]:
    """The Factur-X of a finalised document, rendered once and then served as stored."""
    doc, lines = await get_document(conn, kind, doc_id)
    stored = await repo.stored_pdf(conn, doc_id)
    if stored is not None:
        return doc["number"], stored
    # the PDF stack (reportlab, pikepdf, factur-x, lxml: ~45 MB) loads with the first
    # document rendered, not in every idle billing process (P5)
    from . import factur_x

    rendered = factur_x.factur_x(
        await document_values(conn, doc, lines, settings), seller(settings)
    )
    return doc["number"], await repo.store_pdf(conn, doc_id, rendered)


async def document_values(
    conn: asyncpg.Connection,
    doc: asyncpg.Record,
    lines: list[asyncpg.Record],
    settings: BillingSettings,
) -> documents.Document:
    """What the Factur-X of a finalised document shows, from its rows."""
    invoice = None
    if doc["invoice_id"] is not None:
        invoice = await repo.document(conn, doc["invoice_id"])
    invoice_number = invoice["number"] if invoice else None
    due = doc["due_date"] or doc["issue_date"]
    return documents.Document(
        kind=doc["kind"],
        number=doc["number"],
        issue_date=doc["issue_date"],
        due_date=due,
        buyer=doc["buyer"],
        lines=[
            documents.Line(
                description=ln["description"],
                quantity=ln["quantity"],
                unit_code=ln["unit_code"],
                unit_ht=ln["unit_ht"],
                unit_ttc=ln["unit_ttc"],
                period_start=ln["period_start"],
                period_end=ln["period_end"],
                total_ht=ln["total_ht"],
                total_vat=ln["total_vat"],
                total_ttc=ln["total_ttc"],
                yearly_ttc=ln["yearly_ttc"],
                postes=ln["postes"],
                prorata=ln["prorata"],
            )
            for ln in lines
        ],
        total_ht=doc["total_ht"],
        total_vat=doc["total_vat"],
        total_ttc=doc["total_ttc"],
        payment_terms=documents.payment_terms(doc["kind"], due, seller(settings), invoice_number),
        invoice_number=invoice_number,
        invoice_issue_date=invoice["issue_date"] if invoice else None,
    )
