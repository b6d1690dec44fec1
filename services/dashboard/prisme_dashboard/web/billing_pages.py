"""Facturation (issue 12): invoices and credit notes filtered by status, overdue, year and
practice; an invoice with its lines, payment status and history, its Factur-X PDF opened in the
browser, a cheque or transfer recorded; the price book and the charges waiting for a price.

billing-svc lists a practice's (or every) document at once, at most 500 of them; the filters and
pages are applied here, and the page says when the list was cut (filter by practice then). At
the P7 scale (100,000 invoices) billing-svc should filter and page itself.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis import clock

from ..clients import Json, ServiceProblem
from .deps import GuardedForm, SignedIn, Visit, services_for
from .render import page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
#: billing-svc answers at most this many documents to one list call
SERVICE_CAP = 500
STATUSES = {
    "draft": "brouillon",
    "open": "à payer",
    "issued": "émis",
    "paid": "payée",
    "payment_failed": "paiement échoué",
    "credited": "annulée par avoir",
}
METHODS = {"cheque": "Chèque", "bank_transfer": "Virement"}
SETTLED = {"paid", "credited", "draft"}


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID((text or "").strip())
    except ValueError:
        return None


def today() -> date:
    """The business day in Réunion, on the platform clock (``prisme clock travel`` moves it)."""
    return clock.today()


def outstanding(doc: Json) -> Decimal:
    return Decimal(str(doc.get("total_ttc", "0"))) - Decimal(str(doc.get("amount_paid", "0")))


def is_overdue(doc: Json, on: date) -> bool:
    """Past its due date (Réunion business day) with something still to pay."""
    due = doc.get("due_date")
    return (
        bool(due)
        and doc.get("status") not in SETTLED
        and date.fromisoformat(str(due)) < on
        and outstanding(doc) > 0
    )


def filtered(
    docs: list[Json], *, status: str | None, overdue: bool, year: int | None, on: date
) -> list[Json]:
    return [
        d
        for d in docs
        if (status is None or d.get("status") == status)
        and (not overdue or is_overdue(d, on))
        and (year is None or str(d.get("issue_date", "")).startswith(f"{year}-"))
    ]


@router.get("/facturation")
async def billing_page(request: Request, visit: SignedIn) -> Response:
    params = request.query_params
    kind = "avoirs" if params.get("type") == "avoirs" else "factures"
    client_id = _uuid(params.get("client_id"))
    status = params.get("status") if params.get("status") in STATUSES else None
    overdue = params.get("retard") == "1"
    year_text = params.get("annee", "")
    year = int(year_text) if year_text.isdigit() and len(year_text) == 4 else None
    page_number = int(params["page"]) if params.get("page", "").isdigit() else 1
    page_number = max(1, min(page_number, 10_000))
    billing = services_for(request, visit).billing
    docs: list[Json] = []
    unavailable = None
    try:
        if kind == "avoirs":
            docs = await billing.credit_notes(client_id=client_id)
        else:
            docs = await billing.invoices(client_id=client_id)
    except ServiceProblem as problem:
        unavailable = problem.message
    on = today()
    years = sorted({str(d.get("issue_date", ""))[:4] for d in docs if d.get("issue_date")})
    chosen = filtered(docs, status=status, overdue=overdue, year=year, on=on)
    chosen.sort(key=lambda d: (str(d.get("issue_date")), str(d.get("number"))), reverse=True)
    start = (page_number - 1) * PAGE_SIZE
    return page(
        request,
        "billing.html",
        kind=kind,
        docs=chosen[start : start + PAGE_SIZE],
        total=len(chosen),
        total_ttc=sum((Decimal(str(d.get("total_ttc", "0"))) for d in chosen), Decimal(0)),
        total_due=sum(
            (outstanding(d) for d in chosen if d.get("status") not in SETTLED), Decimal(0)
        ),
        page_number=page_number,
        has_next=start + PAGE_SIZE < len(chosen),
        statuses=STATUSES,
        years=years,
        filters={
            "client_id": str(client_id) if client_id else "",
            "status": status or "",
            "retard": overdue,
            "annee": str(year) if year else "",
        },
        overdue_ids={str(d["id"]) for d in chosen if is_overdue(d, on)},
        capped=len(docs) >= SERVICE_CAP,
        unavailable=unavailable,
    )


async def _invoice_page(
    request: Request,
    visit: Visit,
    invoice_id: uuid.UUID,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    field_errors: dict[str, list[str]] | None = None,
    payment: dict[str, str] | None = None,
) -> Response:
    billing = services_for(request, visit).billing
    try:
        invoice = await billing.invoice(invoice_id)
    except ServiceProblem as problem:
        return page(
            request,
            "refused.html",
            status=problem.status,
            heading="Facture introuvable" if problem.status == 404 else problem.title,
            message=problem.message,
            back="/facturation",
            problem_type=problem.type,
        )

    async def history_of() -> list[Json]:
        try:
            return await billing.invoice_history(invoice_id)
        except ServiceProblem:
            return []

    # the two reads are independent: together, not one after the other
    history, all_notes = await asyncio.gather(
        history_of(), billing.credit_notes(client_id=_uuid(str(invoice.get("client_id"))))
    )
    notes = [n for n in all_notes if str(n.get("invoice_id")) == str(invoice_id)]
    return page(
        request,
        "invoice.html",
        status=status,
        invoice=invoice,
        notes=notes,
        history=history,
        outstanding=outstanding(invoice),
        overdue=is_overdue(invoice, today()),
        statuses=STATUSES,
        methods=METHODS,
        errors=errors or [],
        field_errors=field_errors or {},
        payment=payment
        or {"method": "cheque", "amount": str(outstanding(invoice)).replace(".", ","),
            "paid_on": str(today()), "reference": ""},
    )  # fmt: skip


@router.get("/facturation/factures/{invoice_id}")
async def invoice_page(invoice_id: uuid.UUID, request: Request, visit: SignedIn) -> Response:
    return await _invoice_page(request, visit, invoice_id)


def _pdf(content: bytes, media: str, name: str) -> Response:
    return Response(
        content,
        media_type=media,
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@router.get("/facturation/factures/{invoice_id}/pdf")
async def invoice_pdf(invoice_id: uuid.UUID, request: Request, visit: SignedIn) -> Response:
    billing = services_for(request, visit).billing
    try:
        content, media = await billing.invoice_pdf(invoice_id)
    except ServiceProblem as problem:
        return Response(problem.message, status_code=problem.status, media_type="text/plain")
    return _pdf(content, media, f"facture-{invoice_id}")


@router.get("/facturation/avoirs/{note_id}/pdf")
async def credit_note_pdf(note_id: uuid.UUID, request: Request, visit: SignedIn) -> Response:
    billing = services_for(request, visit).billing
    try:
        content, media = await billing.credit_note_pdf(note_id)
    except ServiceProblem as problem:
        return Response(problem.message, status_code=problem.status, media_type="text/plain")
    return _pdf(content, media, f"avoir-{note_id}")


Text = Annotated[str, Form(max_length=200)]


@router.post("/facturation/factures/{invoice_id}/paiements")
async def record_payment(
    invoice_id: uuid.UUID,
    request: Request,
    visit: GuardedForm,
    method: Text = "",
    amount: Text = "",
    paid_on: Text = "",
    reference: Text = "",
) -> Response:
    kept = {"method": method, "amount": amount, "paid_on": paid_on, "reference": reference}
    problems: dict[str, list[str]] = {}
    if method not in METHODS:
        problems["method"] = ["Choisissez chèque ou virement."]
    try:
        value = Decimal(amount.strip().replace("\u202f", "").replace(" ", "").replace(",", "."))
        if value <= 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
            raise InvalidOperation
    except InvalidOperation:
        problems["amount"] = ["Un montant positif en euros, deux décimales au plus (ex. 120,50)."]
        value = Decimal(0)
    try:
        day = date.fromisoformat(paid_on.strip())
    except ValueError:
        problems["paid_on"] = ["Une date (AAAA-MM-JJ)."]
        day = today()
    if problems:
        return await _invoice_page(
            request, visit, invoice_id, status=422, field_errors=problems, payment=kept
        )
    try:
        await services_for(request, visit).billing.record_payment(
            invoice_id,
            method=method,
            amount=value,
            paid_on=day,
            reference=reference.strip() or None,
        )
    except ServiceProblem as problem:
        return await _invoice_page(
            request,
            visit,
            invoice_id,
            status=problem.status,
            errors=problem.general_errors(),
            field_errors=problem.field_errors(),
            payment=kept,
        )
    return RedirectResponse(
        f"/facturation/factures/{invoice_id}?ok=payment_recorded", status_code=303
    )


@router.get("/facturation/tarifs")
async def price_book_page(request: Request, visit: SignedIn) -> Response:
    billing = services_for(request, visit).billing
    book: Json | None = None
    charges: list[Json] = []
    unavailable = None
    try:
        book = await billing.price_book()
        charges = await billing.charges(status="awaiting_price")
    except ServiceProblem as problem:
        unavailable = problem.message
    return page(request, "price_book.html", book=book, charges=charges, unavailable=unavailable)
