"""Facturation (issue 12): invoices and credit notes filtered by state, origin, overdue, year,
issue dates, practice and a number or name; an invoice with its lines, payment status and
history, its Factur-X PDF opened in the browser, a cheque or transfer recorded; the price book
and the charges waiting for a price.

billing-svc filters and pages (``limit``, ``cursor``): this page asks for one page of what the
filters keep, newest first, and keeps the filters and the cursor in its query string (French
names: ``status``, ``origine``, ``retard``, ``annee``, ``q``, ``du``, ``au``, ``curseur``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis import clock

from ..clients import Json, ServiceProblem
from .deps import GuardedForm, SignedIn, Visit, services_for
from .render import page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STATUSES = {
    "draft": "brouillon",
    "open": "à payer",
    "issued": "émis",
    "paid": "payée",
    "payment_failed": "paiement échoué",
    "credited": "annulée par avoir",
}
#: the states an invoice of the list can be in (drafts are never listed)
INVOICE_STATES = ("open", "paid", "payment_failed", "credited")
#: what a document was issued for, by kind (billing-svc's ``purpose``)
ORIGINS = {
    "factures": {
        "yearly": "contrat annuel",
        "additional": "postes ajoutés",
        "one_off": "interventions du mois",
    },
    "avoirs": {"cessation": "résiliation", "correction": "correction (quatre yeux)"},
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
    """Past its due date (Réunion business day) with something still to pay (the badge of a
    row; the ``retard`` filter is billing-svc's, by the same rule)."""
    due = doc.get("due_date")
    return (
        bool(due)
        and doc.get("status") not in SETTLED
        and date.fromisoformat(str(due)) < on
        and outstanding(doc) > 0
    )


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def list_filters(params: Mapping[str, str], kind: str) -> dict[str, str]:
    """The filters of the query string billing-svc can take; a value it cannot is dropped
    (the form shows it unset) rather than refused."""
    year = params.get("annee", "")
    q = " ".join(params.get("q", "").split())[:100]
    kept = {
        "client_id": str(_uuid(params.get("client_id")) or ""),
        "status": params.get("status", "") if kind == "factures" else "",
        "origine": params.get("origine", ""),
        "annee": year if year.isdigit() and len(year) == 4 else "",
        "q": q if "\x00" not in q else "",
        "du": str(_day(params.get("du")) or ""),
        "au": str(_day(params.get("au")) or ""),
        "retard": "1" if kind == "factures" and params.get("retard") == "1" else "",
    }
    if kept["status"] not in INVOICE_STATES:
        kept["status"] = ""
    if kept["origine"] not in ORIGINS[kind]:
        kept["origine"] = ""
    if kept["du"] and kept["au"] and kept["du"] > kept["au"]:
        kept["du"], kept["au"] = kept["au"], kept["du"]
    return kept


def service_query(kept: dict[str, str]) -> dict[str, Any]:
    """The billing client's keywords for the kept filters."""
    return {
        "client_id": _uuid(kept["client_id"]),
        "year": int(kept["annee"]) if kept["annee"] else None,
        "q": kept["q"] or None,
        "issued_from": _day(kept["du"]),
        "issued_to": _day(kept["au"]),
        "purpose": kept["origine"] or None,
    }


@router.get("/facturation")
async def billing_page(request: Request, visit: SignedIn) -> Response:
    params = request.query_params
    kind = "avoirs" if params.get("type") == "avoirs" else "factures"
    kept = list_filters(params, kind)
    cursor = params.get("curseur") or None
    page_number = int(params["page"]) if params.get("page", "").isdigit() else 1
    page_number = max(1, min(page_number, 100_000)) if cursor else 1
    billing = services_for(request, visit).billing
    found: Json = {"items": [], "next_cursor": None}
    unavailable = None
    wanted = service_query(kept)
    paging: dict[str, Any] = {"newest_first": True, "limit": PAGE_SIZE, "cursor": cursor}
    totals: Json | None = None
    try:
        if kind == "avoirs":
            found = await billing.credit_notes(**wanted, **paging)
        else:
            wanted |= {"status": kept["status"] or None, "overdue": kept["retard"] == "1"}
            # the page and the figures of every page: two reads, together
            found, totals = await asyncio.gather(
                billing.invoices(**wanted, **paging), billing.invoice_totals(**wanted)
            )
    except ServiceProblem as problem:
        unavailable = problem.message
        if problem.status == 422 and cursor:
            unavailable = "Cette page n'existe plus : revenez à la première page."
    docs: list[Json] = found["items"]
    on = today()
    this_year = on.year
    return page(
        request,
        "billing.html",
        kind=kind,
        docs=docs,
        page_total_ttc=sum((Decimal(str(d.get("total_ttc", "0"))) for d in docs), Decimal(0)),
        page_due=sum((outstanding(d) for d in docs if d.get("status") not in SETTLED), Decimal(0)),
        totals=totals,
        page_number=page_number,
        next_cursor=found["next_cursor"],
        statuses=STATUSES,
        invoice_states=INVOICE_STATES,
        origins=ORIGINS[kind],
        years=[str(y) for y in range(this_year, this_year - 10, -1)],
        filters=kept,
        filtered=any(kept.values()),
        overdue_ids={str(d["id"]) for d in docs if is_overdue(d, on)},
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

    async def invoice_of() -> Json | ServiceProblem:
        try:
            return await billing.invoice(invoice_id)
        except ServiceProblem as problem:
            return problem

    async def history_of() -> list[Json]:
        try:
            return await billing.invoice_history(invoice_id)
        except ServiceProblem:
            return []

    async def notes_of() -> Json | ServiceProblem:
        try:
            return await billing.credit_notes(invoice_id=invoice_id, limit=200)
        except ServiceProblem as problem:
            return problem

    # the three reads are independent: one round, not one after the other (P7)
    invoice, history, notes = await asyncio.gather(invoice_of(), history_of(), notes_of())
    if isinstance(invoice, ServiceProblem):
        return page(
            request,
            "refused.html",
            status=invoice.status,
            heading="Facture introuvable" if invoice.status == 404 else invoice.title,
            message=invoice.message,
            back="/facturation",
            problem_type=invoice.type,
        )
    if isinstance(notes, ServiceProblem):
        raise notes
    return page(
        request,
        "invoice.html",
        status=status,
        invoice=invoice,
        notes=notes["items"],
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
        charges = (await billing.charges(status="awaiting_price"))["items"]
    except ServiceProblem as problem:
        unavailable = problem.message
    return page(request, "price_book.html", book=book, charges=charges, unavailable=unavailable)
