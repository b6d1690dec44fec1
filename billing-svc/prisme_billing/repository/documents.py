"""SQL: invoices, credit notes, their lines, files and number series (B6)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import asyncpg

from ..domain import Amounts

# --- documents and numbering (B6) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewLine:
    description: str
    quantity: Decimal
    unit_code: str
    unit_ttc: Decimal
    unit_ht: Decimal
    yearly_ttc: Decimal | None
    postes: int | None
    prorata: str | None
    period_start: date
    period_end: date
    amounts: Amounts
    credits_position: int | None = None


async def insert_draft(
    conn: asyncpg.Connection,
    *,
    kind: str,
    contract_id: uuid.UUID | None,
    client_id: uuid.UUID,
    buyer: dict[str, str],
    lines: list[NewLine],
    totals: Amounts,
    invoice_id: uuid.UUID | None = None,
    price_book_version: int | None = None,
    purpose: str = "yearly",
    reason: str | None = None,
) -> uuid.UUID:
    doc_id = uuid.uuid4()
    await conn.execute(
        """
        INSERT INTO documents (id, kind, invoice_id, contract_id, client_id, price_book_version,
                               status, buyer, total_ht, total_vat, total_ttc, purpose, reason)
        VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9, $10, $11, $12)
        """,
        doc_id,
        kind,
        invoice_id,
        contract_id,
        client_id,
        price_book_version,
        buyer,
        totals.ht,
        totals.vat,
        totals.ttc,
        purpose,
        reason,
    )
    await conn.executemany(
        """
        INSERT INTO document_lines (document_id, position, description, quantity, yearly_ttc,
            unit_ttc, period_start, period_end, total_ht, total_vat, total_ttc, unit_code,
            unit_ht, postes, prorata, credits_position)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        """,
        [
            (
                doc_id,
                i,
                ln.description,
                ln.quantity,
                ln.yearly_ttc,
                ln.unit_ttc,
                ln.period_start,
                ln.period_end,
                ln.amounts.ht,
                ln.amounts.vat,
                ln.amounts.ttc,
                ln.unit_code,
                ln.unit_ht,
                ln.postes,
                ln.prorata,
                ln.credits_position,
            )
            for i, ln in enumerate(lines, start=1)
        ],
    )
    return doc_id


async def allocate_number(conn: asyncpg.Connection, kind: str, year: int) -> int:
    """B6: the next number of the (kind, year) series.

    The UPDATE locks the counter row until the caller's transaction ends, so concurrent
    finalisations queue up behind it and a rolled-back finalisation gives its number back:
    the series stays gapless and in commit order.
    """
    await conn.execute(
        "INSERT INTO number_series (kind, year) VALUES ($1, $2) ON CONFLICT DO NOTHING", kind, year
    )
    value: int = await conn.fetchval(
        "UPDATE number_series SET last = last + 1 WHERE kind = $1 AND year = $2 RETURNING last",
        kind,
        year,
    )
    return value


async def mark_finalised(
    conn: asyncpg.Connection,
    doc_id: uuid.UUID,
    *,
    number: str,
    year: int,
    sequence: int,
    issue_date: date,
    due_date: date | None,
    status: str,
) -> None:
    done = await conn.execute(
        """
        UPDATE documents SET number = $2, series_year = $3, sequence = $4, issue_date = $5,
            due_date = $6, status = $7, finalised_at = clock_timestamp()
        WHERE id = $1 AND status = 'draft'
        """,
        doc_id,
        number,
        year,
        sequence,
        issue_date,
        due_date,
        status,
    )
    if done != "UPDATE 1":
        raise RuntimeError(f"document {doc_id} is not a draft")


async def document(
    conn: asyncpg.Connection, doc_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    if lock:
        # NO KEY UPDATE: writers of the row still queue behind each other, but a transaction
        # inserting a row that references it (a credit note, a mailing: a KEY SHARE lock from
        # the foreign key) is not blocked, which would deadlock against this lock's holder
        return await conn.fetchrow(
            "SELECT * FROM documents WHERE id = $1 FOR NO KEY UPDATE", doc_id
        )
    return await conn.fetchrow("SELECT * FROM documents WHERE id = $1", doc_id)


async def document_by_stripe_id(
    conn: asyncpg.Connection, stripe_invoice_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM documents WHERE stripe_invoice_id = $1 FOR NO KEY UPDATE", stripe_invoice_id
    )


@dataclass(frozen=True, slots=True)
class DocumentFilters:
    """What a list of finalised documents keeps (every given filter holds)."""

    client_id: uuid.UUID | None = None
    contract_id: uuid.UUID | None = None
    #: the credit notes of this invoice
    invoice_id: uuid.UUID | None = None
    number: str | None = None
    statuses: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    year: int | None = None
    q: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    #: only invoices past their due date on this day with something left to pay
    overdue_on: date | None = None


def _like(text: str) -> str:
    """``text`` as a literal ILIKE pattern found anywhere (its wildcards escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(kind: str, f: DocumentFilters, args: list[object]) -> list[str]:
    """The clauses of ``f`` (only the filters given, so each is served by its index, migration
    012), their values appended to ``args`` as ``$n`` parameters."""
    where = ["kind = " + _arg(args, kind), "status <> 'draft'"]
    if f.client_id is not None:
        where.append("client_id = " + _arg(args, f.client_id))
    if f.contract_id is not None:
        where.append("contract_id = " + _arg(args, f.contract_id))
    if f.invoice_id is not None:
        where.append("invoice_id = " + _arg(args, f.invoice_id))
    if f.number:
        where.append("number = " + _arg(args, f.number.strip().upper()))
    if f.statuses:
        where.append(f"status = ANY({_arg(args, list(f.statuses))}::text[])")
    if f.purposes:
        where.append(f"purpose = ANY({_arg(args, list(f.purposes))}::text[])")
    if f.year is not None:
        where.append("series_year = " + _arg(args, f.year))
    if f.q:
        pattern = _arg(args, _like(f.q.strip()))
        where.append(
            f"(number ILIKE {pattern} OR buyer->>'name' ILIKE {pattern}"
            f" OR buyer->>'siren' ILIKE {pattern})"
        )
    if f.issued_from is not None:
        where.append("issue_date >= " + _arg(args, f.issued_from))
    if f.issued_to is not None:
        where.append("issue_date <= " + _arg(args, f.issued_to))
    if f.overdue_on is not None:
        where.append(
            "status IN ('open', 'payment_failed') AND total_ttc > amount_paid"
            " AND due_date < " + _arg(args, f.overdue_on)
        )
    return where


def _arg(args: list[object], value: object) -> str:
    args.append(value)
    return f"${len(args)}"


async def documents(
    conn: asyncpg.Connection,
    kind: str,
    filters: DocumentFilters,
    *,
    after: tuple[int, int] | None = None,
    descending: bool = False,
    limit: int,
) -> list[asyncpg.Record]:
    """Finalised documents of ``kind`` in number order (or its reverse), from the one after
    ``after`` (its series year and sequence)."""
    args: list[object] = []
    where = _where(kind, filters, args)
    if after is not None:
        op = "<" if descending else ">"
        where.append(
            f"(series_year, sequence) {op} ({_arg(args, after[0])}, {_arg(args, after[1])})"
        )
    order = "DESC" if descending else "ASC"
    # every clause is a constant of this module; the values travel as $n parameters
    sql = (
        f"SELECT * FROM documents WHERE {' AND '.join(where)}"  # noqa: S608
        f" ORDER BY series_year {order}, sequence {order} LIMIT {_arg(args, limit)}"
    )
    return await conn.fetch(sql, *args)


async def document_totals(
    conn: asyncpg.Connection, kind: str, filters: DocumentFilters
) -> asyncpg.Record:
    """``count``, ``total_ttc`` and ``outstanding`` (left to pay on the open ones) of what
    ``filters`` keep."""
    args: list[object] = []
    where = " AND ".join(_where(kind, filters, args))
    # every clause is a constant of this module; the values travel as $n parameters
    sql = (
        "SELECT count(*) AS count, coalesce(sum(total_ttc), 0) AS total_ttc,"  # noqa: S608
        " coalesce(sum(total_ttc - amount_paid)"
        " FILTER (WHERE status IN ('open', 'payment_failed')), 0) AS outstanding"
        f" FROM documents WHERE {where}"
    )
    row = await conn.fetchrow(sql, *args)
    assert row is not None
    return row


async def invoices_of_contract(
    conn: asyncpg.Connection, contract_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM documents WHERE kind = 'invoice' AND contract_id = $1 AND status <> 'draft'"
        " ORDER BY sequence FOR NO KEY UPDATE",
        contract_id,
    )


async def cessation_credit_of(
    conn: asyncpg.Connection, invoice_id: uuid.UUID
) -> asyncpg.Record | None:
    """B5: the invoice's cessation credit note (at most one)."""
    return await conn.fetchrow(
        "SELECT * FROM documents WHERE kind = 'credit_note' AND invoice_id = $1"
        " AND purpose = 'cessation'",
        invoice_id,
    )


async def credit_notes_of(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every finalised credit note against ``invoice_id``, oldest first."""
    return await conn.fetch(
        "SELECT * FROM documents WHERE kind = 'credit_note' AND invoice_id = $1"
        " AND status <> 'draft' ORDER BY series_year, sequence",
        invoice_id,
    )


async def credited(
    conn: asyncpg.Connection, invoice_id: uuid.UUID
) -> tuple[Decimal, dict[int, Decimal]]:
    """B6: what credit notes took from ``invoice_id`` in total, and per invoice line."""
    rows = await conn.fetch(
        """
        SELECT l.credits_position AS position, sum(l.total_ttc) AS amount
        FROM documents d JOIN document_lines l ON l.document_id = d.id
        WHERE d.kind = 'credit_note' AND d.invoice_id = $1 AND d.status <> 'draft'
        GROUP BY l.credits_position
        """,
        invoice_id,
    )
    total = sum((r["amount"] for r in rows), Decimal("0.00"))
    return total, {r["position"]: r["amount"] for r in rows if r["position"] is not None}


async def lines(
    conn: asyncpg.Connection, doc_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[asyncpg.Record]]:
    rows = await conn.fetch(
        "SELECT * FROM document_lines WHERE document_id = ANY($1::uuid[])"
        " ORDER BY document_id, position",
        doc_ids,
    )
    out: dict[uuid.UUID, list[asyncpg.Record]] = {d: [] for d in doc_ids}
    for r in rows:
        out[r["document_id"]].append(r)
    return out


async def set_status(conn: asyncpg.Connection, doc_id: uuid.UUID, status: str) -> None:
    await conn.execute("UPDATE documents SET status = $2 WHERE id = $1", doc_id, status)


async def lock_for_key_update(conn: asyncpg.Connection, doc_id: uuid.UUID) -> None:
    """Take the document's strongest row lock before anything else of the transaction: the
    write of a unique column (``stripe_invoice_id``) needs it, and taking it only at that write,
    after other rows, deadlocked with a payment recorded meanwhile on the same invoice."""
    await conn.execute("SELECT 1 FROM documents WHERE id = $1 FOR UPDATE", doc_id)


async def set_stripe_invoice(conn: asyncpg.Connection, doc_id: uuid.UUID, stripe_id: str) -> None:
    await conn.execute(
        "UPDATE documents SET stripe_invoice_id = $2 WHERE id = $1", doc_id, stripe_id
    )


async def stored_pdf(conn: asyncpg.Connection, doc_id: uuid.UUID) -> bytes | None:
    value: bytes | None = await conn.fetchval(
        "SELECT pdf FROM document_files WHERE document_id = $1", doc_id
    )
    return value


async def store_pdf(conn: asyncpg.Connection, doc_id: uuid.UUID, pdf: bytes) -> bytes:
    """Keep the first rendering: a finalised document's file never changes."""
    await conn.execute(
        "INSERT INTO document_files (document_id, pdf) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        doc_id,
        pdf,
    )
    stored = await stored_pdf(conn, doc_id)
    assert stored is not None
    return stored
