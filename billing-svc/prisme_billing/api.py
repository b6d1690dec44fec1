"""HTTP routes of billing-svc (DESIGN §4) with their request and response schemas."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import asyncpg
import stripe
from fastapi import APIRouter, Depends, Query, Request, Response
from prisme_chassis import audit, jobs, pagination
from prisme_chassis.app import Read, Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.calendar import business_today
from prisme_chassis.errors import problems
from prisme_chassis.money import ZERO, money_str
from prisme_chassis.wire import BodyInt, DecimalText, IsoDate
from prisme_chassis.year_end import YearEndEffects, YearPath
from pydantic import BaseModel, Field

from . import domain, errors, mailing, payments, queries, service, stripe_events, stripe_jobs
from . import repository as repo
from .context import BillingRuntimeDep
from .errors import ContractUnknown

router = APIRouter(tags=["billing"])
public_router = APIRouter(tags=["webhooks"])

# money in: a decimal string (DESIGN §4) whose pattern the OpenAPI states (R2)
Money = Annotated[
    Decimal, Field(ge=0, le=Decimal("1000000"), decimal_places=2), DecimalText(maximum=1_000_000)
]
Out = TypeVar("Out", bound=BaseModel)
PositiveMoney = Annotated[
    Decimal,
    Field(gt=0, le=Decimal("1000000"), decimal_places=2),
    DecimalText(maximum=1_000_000, positive=True),
]


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


# --- invoices and credit notes ---------------------------------------------------------------


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


_PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "Factur-X PDF/A-3"}
}


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


@router.post(
    "/v1/invoices/{invoice_id}/send", status_code=202, responses=problems(errors.DocumentNotFound)
)
async def send_invoice(
    invoice_id: uuid.UUID,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("billing:write"),
) -> EmailOut:
    """B11: e-mail the invoice again to the practice's manager (audited); sent by a job."""
    row = await mailing.resend(conn, "invoice", invoice_id, actor=actor)
    return _emails([row])[0]


@router.post(
    "/v1/credit-notes/{note_id}/send", status_code=202, responses=problems(errors.DocumentNotFound)
)
async def send_credit_note(
    note_id: uuid.UUID,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("billing:write"),
) -> EmailOut:
    """B11: e-mail the credit note again to the practice's manager (audited)."""
    row = await mailing.resend(conn, "credit_note", note_id, actor=actor)
    return _emails([row])[0]


# --- manual payments ---------------------------------------------------------------------------


class ManualPayment(BaseModel):
    method: Literal["bank_transfer", "cheque"]
    amount: PositiveMoney
    paid_on: IsoDate
    reference: str | None = Field(default=None, max_length=200)


@router.post(
    "/v1/invoices/{invoice_id}/payments",
    status_code=201,
    responses=problems(
        errors.PaymentMethodRefused,
        errors.InvalidAmount,
        errors.InvoiceNotFound,
        errors.InvoiceAlreadyPaid,
        errors.AmountExceedsOutstanding,
        errors.DocumentNotFound,
    ),
)
async def record_payment(
    invoice_id: uuid.UUID,
    body: ManualPayment,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("billing:write"),
) -> InvoiceOut:
    """Record a bank transfer or a cheque received for an invoice."""
    await payments.record_manual_payment(
        conn,
        invoice_id,
        method=body.method,
        amount=body.amount,
        paid_on=body.paid_on,
        reference=body.reference,
        actor=actor,
    )
    return _invoice(*await queries.get_document_with_emails(conn, "invoice", invoice_id))


# --- price book (B1) ---------------------------------------------------------------------------


Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


class PriceIn(BaseModel):
    offer: Code
    level: Code = Field(
        default=domain.DEFAULT_LEVEL,
        description="Maintenance level (contracts-svc's catalogue); standard = PRISME's "
        "published price (B1)",
    )
    label: str = Field(min_length=1, max_length=200)
    base_ttc: Money
    included_postes: BodyInt = Field(ge=0, le=10_000)
    extra_poste_ttc: Money


class PriceOut(BaseModel):
    offer: str
    level: str
    label: str
    base_ttc: str
    included_postes: int
    extra_poste_ttc: str
    currency: str = "EUR"


class PriceBookIn(BaseModel):
    """The whole new price book, and why (O2: applied when another operator approves)."""

    prices: list[PriceIn] = Field(max_length=200)
    reason: str = Field(min_length=3, max_length=500)

    def to_domain(self) -> list[domain.Price]:
        return [
            domain.Price(
                p.offer, p.base_ttc, p.included_postes, p.extra_poste_ttc, p.label, p.level
            )
            for p in self.prices
        ]


class PriceBookOut(BaseModel):
    version: int
    created_at: datetime
    created_by: str = Field(description="Who asked for this version")
    approved_by: str | None = Field(description="Who approved it (O2); none for the seed")
    prices: list[PriceOut]


def _book(book: repo.PriceBook) -> PriceBookOut:
    return PriceBookOut(
        version=book.version,
        created_at=book.created_at,
        created_by=book.created_by,
        approved_by=book.approved_by,
        prices=[
            PriceOut(
                offer=p.offer,
                level=p.level,
                label=p.label,
                base_ttc=money_str(p.base_ttc),
                included_postes=p.included_postes,
                extra_poste_ttc=money_str(p.extra_poste_ttc),
            )
            for p in book.prices
        ],
    )


@router.get("/v1/price-book")
async def get_price_book(conn: Tx, who: Principal = require_scopes("billing:read")) -> PriceBookOut:
    return _book(await repo.current_price_book(conn))


class PriceCheckOut(BaseModel):
    offer: str
    level: str
    priced: bool
    price_book_version: int
    label: str | None = None
    missing_price: str | None = Field(
        default=None, description="What is missing, in French, when (offer, level) has no price"
    )


@router.get("/v1/price-book/check")
async def check_price(
    conn: Tx,
    offer: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")],
    level: Annotated[
        str, Query(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    ] = domain.DEFAULT_LEVEL,
    who: Principal = require_scopes("billing:read"),
) -> PriceCheckOut:
    """B1: contracts-svc asks this before activating a contract: an (offer, level) the
    current price book does not price cannot be invoiced, so its activation is refused."""
    book = await repo.current_price_book(conn)
    price = next((p for p in book.prices if p.key == (offer, level)), None)
    if price is None:
        return PriceCheckOut(
            offer=offer,
            level=level,
            priced=False,
            price_book_version=book.version,
            missing_price=(
                f"prix annuel TTC de l'offre « {offer} » au niveau « {level} » "
                "(forfait et prix par poste)"
            ),
        )
    return PriceCheckOut(
        offer=offer, level=level, priced=True, price_book_version=book.version, label=price.label
    )


class ChargeOut(BaseModel):
    id: uuid.UUID
    kind: str
    contract_id: uuid.UUID
    client_id: uuid.UUID
    offer: str
    postes_before: int
    postes: int
    effective_date: date
    status: str
    invoice_id: uuid.UUID | None


def _created_key(row: asyncpg.Record) -> tuple[datetime, uuid.UUID]:
    return row["created_at"], row["id"]


def created_after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The ``(created_at, id)`` a list paged oldest first resumes after."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    return None if after is None else (after[0], after[1])


def created_page(
    rows: list[asyncpg.Record], limit: int, out: Callable[[asyncpg.Record], Out]
) -> pagination.Page[Out]:
    """A page of a list paged oldest first (charges, approvals)."""
    return pagination.Page[Out].of(rows, limit, key=_created_key, out=out)


@router.get("/v1/charges", responses=problems(pagination.InvalidCursor))
async def list_charges(
    conn: Tx,
    status: Literal["awaiting_price", "invoiced", "nothing_due"] | None = Query(default=None),
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("billing:read"),
) -> pagination.Page[ChargeOut]:
    """Activations and amendments oldest first, e.g. ``?status=awaiting_price`` for offers
    without a price."""
    rows = await repo.oldest_first(conn, "charges", status, created_after(cursor), limit + 1)
    return created_page(
        rows, limit, lambda r: ChargeOut(**{k: r[k] for k in ChargeOut.model_fields})
    )


class ContractBillingOut(BaseModel):
    contract_id: uuid.UUID
    client_id: uuid.UUID
    year: int
    contract_status: str
    payment_status: str
    total_invoiced: str
    total_paid: str
    total_credited: str
    total_refunded: str
    currency: str = "EUR"


@router.get("/v1/contracts/{contract_id}/billing", responses=problems(errors.ContractUnknown))
async def contract_billing(
    contract_id: uuid.UUID, conn: Tx, who: Principal = require_scopes("billing:read")
) -> ContractBillingOut:
    """B8: a contract's payment status as Stripe's webhooks and manual payments left it."""
    found = await repo.contract_billing(conn, contract_id)
    if found is None:
        raise ContractUnknown("billing knows no such contract", contract_id=contract_id)
    contract, docs = found["contract"], found["documents"]
    invoices = [d for d in docs if d["kind"] == "invoice"]
    refunded = sum((d["amount_refunded"] for d in invoices), ZERO)
    return ContractBillingOut(
        contract_id=contract_id,
        client_id=contract["client_id"],
        year=contract["year"],
        contract_status=contract["status"],
        payment_status=domain.contract_payment_status(
            [d["status"] for d in invoices], found["awaiting"] > 0, refunded > 0
        ),
        total_invoiced=money_str(sum((d["total_ttc"] for d in invoices), ZERO)),
        total_paid=money_str(sum((d["amount_paid"] for d in invoices), ZERO)),
        total_credited=money_str(
            sum((d["total_ttc"] for d in docs if d["kind"] == "credit_note"), ZERO)
        ),
        total_refunded=money_str(refunded),
    )


@router.get("/v1/year-end/{year}")
async def year_end_effects(
    year: YearPath, conn: Read, who: Principal = require_scopes("billing:read")
) -> YearEndEffects:
    """C2 at the year-end: the year's ended contracts and those whose billing is closed
    (``failed``: a charge waits for a price the book does not have, B1)."""
    return await service.year_end_effects(conn, year)


# --- Stripe ------------------------------------------------------------------------------------


class WebhookAck(BaseModel):
    received: bool
    stored: bool


@public_router.post("/v1/webhooks/stripe", responses=problems(errors.InvalidSignature))
async def stripe_webhook(request: Request, conn: Tx, rt: BillingRuntimeDep) -> WebhookAck:
    """B8/R3: verified over the raw body, stored once with its processing job (one
    transaction); processed afterwards by the job, with back-off while Stripe is away."""
    payload = await request.body()
    try:
        stored = await stripe_events.receive_webhook(
            conn, payload, request.headers.get("stripe-signature"), rt.settings
        )
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise errors.InvalidSignature("the webhook signature is missing, wrong or too old") from exc
    return WebhookAck(received=True, stored=stored)


class ReconcileOut(BaseModel):
    new_events: int


class StripeBacklogOut(BaseModel):
    jobs_pending: int
    jobs_failed: int
    webhooks_pending: int
    webhooks_failed: int


@router.get("/v1/stripe/backlog")
async def stripe_backlog(
    conn: Tx, who: Principal = require_scopes("billing:read")
) -> StripeBacklogOut:
    """Stripe work not done yet and work given up on (for the dashboard's alerts); the jobs
    themselves are on ``GET /v1/jobs``."""
    found = await jobs.counts(conn, stripe_jobs.ALL_KINDS)
    calls = [found[k.name] for k in stripe_jobs.CALL_KINDS]
    events = found[stripe_jobs.STRIPE_EVENT.name]
    open_states = (jobs.JobState.QUEUED, jobs.JobState.RUNNING)
    return StripeBacklogOut(
        jobs_pending=sum(c[s] for c in calls for s in open_states),
        jobs_failed=sum(c[jobs.JobState.DEAD] for c in calls),
        webhooks_pending=sum(events[s] for s in open_states),
        webhooks_failed=events[jobs.JobState.DEAD],
    )


@router.post("/v1/stripe/reconcile", responses=problems(errors.StripeUnavailable))
async def reconcile(
    rt: BillingRuntimeDep, actor: audit.ActorDep, who: Principal = require_scopes("billing:write")
) -> ReconcileOut:
    """Fetch Stripe events missed by the webhook (also run periodically by the worker)."""
    try:
        new_events = await stripe_events.reconcile(rt.pool, rt.context.stripe, actor)
    except stripe.StripeError as exc:
        # Nothing was lost: the worker reconciles again later.
        raise errors.StripeUnavailable(
            f"Stripe answered {type(exc).__name__}; try again later"
        ) from exc
    return ReconcileOut(new_events=new_events)
