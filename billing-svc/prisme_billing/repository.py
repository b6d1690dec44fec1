"""All SQL of billing-svc. Functions take a connection that is already in a transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from .domain import Amounts, Price

# --- price book (B1) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceBook:
    version: int
    created_at: datetime
    created_by: str
    prices: list[Price]


def _price(row: asyncpg.Record) -> Price:
    return Price(
        offer=row["offer"],
        base_ttc=row["base_ttc"],
        included_postes=row["included_postes"],
        extra_poste_ttc=row["extra_poste_ttc"],
        label=row["label"],
    )


async def current_price_book(conn: asyncpg.Connection) -> PriceBook:
    head = await conn.fetchrow(
        "SELECT version, created_at, created_by FROM price_book_versions"
        " ORDER BY version DESC LIMIT 1"
    )
    assert head is not None, "migration 001 seeds version 1"
    rows = await conn.fetch(
        "SELECT * FROM price_book_entries WHERE version = $1 ORDER BY offer", head["version"]
    )
    return PriceBook(
        head["version"], head["created_at"], head["created_by"], [_price(r) for r in rows]
    )


async def write_price_book(conn: asyncpg.Connection, prices: list[Price], actor: str) -> int:
    """Store ``prices`` as a new version; concurrent writers serialise on the table lock."""
    await conn.execute("LOCK TABLE price_book_versions IN SHARE ROW EXCLUSIVE MODE")
    version: int = await conn.fetchval(
        "INSERT INTO price_book_versions (version, created_by)"
        " SELECT coalesce(max(version), 0) + 1, $1 FROM price_book_versions RETURNING version",
        actor,
    )
    await conn.executemany(
        "INSERT INTO price_book_entries"
        " (version, offer, label, base_ttc, included_postes, extra_poste_ttc)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (version, p.offer, p.label, p.base_ttc, p.included_postes, p.extra_poste_ttc)
            for p in prices
        ],
    )
    return version


# --- clients and contracts -----------------------------------------------------------------


async def upsert_client(
    conn: asyncpg.Connection, buyer: dict[str, str], client_id: uuid.UUID
) -> None:
    await conn.execute(
        """
        INSERT INTO clients (client_id, name, siren, address_line1, postal_code, city,
                             manager_name, email)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (client_id) DO UPDATE SET
            name = EXCLUDED.name, siren = EXCLUDED.siren, address_line1 = EXCLUDED.address_line1,
            postal_code = EXCLUDED.postal_code, city = EXCLUDED.city,
            manager_name = EXCLUDED.manager_name, email = EXCLUDED.email, updated_at = now()
        """,
        client_id,
        buyer["name"],
        buyer["siren"],
        buyer["line1"],
        buyer["postal_code"],
        buyer["city"],
        buyer["manager_name"],
        buyer["email"],
    )


async def client(conn: asyncpg.Connection, client_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM clients WHERE client_id = $1", client_id)


async def set_stripe_customer(
    conn: asyncpg.Connection, client_id: uuid.UUID, customer: str
) -> None:
    await conn.execute(
        "UPDATE clients SET stripe_customer_id = $2 WHERE client_id = $1", client_id, customer
    )


async def lock_contract(conn: asyncpg.Connection, contract_id: uuid.UUID) -> asyncpg.Record | None:
    """The contract row, locked: events of one contract are applied one at a time."""
    return await conn.fetchrow(
        "SELECT * FROM contracts WHERE contract_id = $1 FOR UPDATE", contract_id
    )


async def insert_contract(conn: asyncpg.Connection, **fields: Any) -> None:
    """Insert the contract row (no-op when a concurrent handler already created it)."""
    cols = ", ".join(fields)
    params = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    await conn.execute(
        f"INSERT INTO contracts ({cols}) VALUES ({params}) ON CONFLICT DO NOTHING",  # noqa: S608
        *fields.values(),
    )


_CONTRACT_COLUMNS = frozenset(
    {
        "client_id",
        "offer",
        "year",
        "start_date",
        "postes",
        "version",
        "status",
        "end_reason",
        "end_effective",
        "activated_seen",
    }
)


async def update_contract(conn: asyncpg.Connection, contract_id: uuid.UUID, **fields: Any) -> None:
    unknown = set(fields) - _CONTRACT_COLUMNS
    if unknown:
        raise ValueError(f"unknown contract columns {sorted(unknown)}")
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=2))
    await conn.execute(
        f"UPDATE contracts SET {sets}, updated_at = now() WHERE contract_id = $1",  # noqa: S608
        contract_id,
        *fields.values(),
    )


# --- charges awaiting a price (B1) ----------------------------------------------------------


async def insert_charge(conn: asyncpg.Connection, **fields: Any) -> uuid.UUID | None:
    """Record a charge once per ``source_key``; ``None`` when it was already recorded."""
    cols = ", ".join(fields)
    params = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    value: uuid.UUID | None = await conn.fetchval(
        f"INSERT INTO charges ({cols}) VALUES ({params})"  # noqa: S608
        " ON CONFLICT (source_key) DO NOTHING RETURNING id",
        *fields.values(),
    )
    return value


async def charges_awaiting(conn: asyncpg.Connection, offers: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM charges WHERE status = 'awaiting_price' AND offer = ANY($1::text[])"
        " ORDER BY created_at FOR UPDATE SKIP LOCKED",
        offers,
    )


async def list_charges(conn: asyncpg.Connection, status: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM charges WHERE ($1::text IS NULL OR status = $1) ORDER BY created_at",
        status,
    )


async def resolve_charge(
    conn: asyncpg.Connection, charge_id: uuid.UUID, status: str, invoice_id: uuid.UUID | None
) -> None:
    await conn.execute(
        "UPDATE charges SET status = $2, invoice_id = $3, resolved_at = now() WHERE id = $1",
        charge_id,
        status,
        invoice_id,
    )


# --- documents and numbering (B6) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewLine:
    description: str
    quantity: int
    yearly_ttc: Decimal
    period_start: date
    period_end: date
    amounts: Amounts


async def insert_draft(
    conn: asyncpg.Connection,
    *,
    kind: str,
    contract_id: uuid.UUID,
    client_id: uuid.UUID,
    buyer: dict[str, str],
    lines: list[NewLine],
    totals: Amounts,
    invoice_id: uuid.UUID | None = None,
    price_book_version: int | None = None,
) -> uuid.UUID:
    doc_id = uuid.uuid4()
    await conn.execute(
        """
        INSERT INTO documents (id, kind, invoice_id, contract_id, client_id, price_book_version,
                               status, buyer, total_ht, total_vat, total_ttc)
        VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9, $10)
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
    )
    await conn.executemany(
        """
        INSERT INTO document_lines (document_id, position, description, quantity, yearly_ttc,
            unit_ttc, period_start, period_end, total_ht, total_vat, total_ttc)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        """,
        [
            (
                doc_id,
                i,
                ln.description,
                ln.quantity,
                ln.yearly_ttc,
                ln.amounts.ttc,
                ln.period_start,
                ln.period_end,
                ln.amounts.ht,
                ln.amounts.vat,
                ln.amounts.ttc,
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
        return await conn.fetchrow("SELECT * FROM documents WHERE id = $1 FOR UPDATE", doc_id)
    return await conn.fetchrow("SELECT * FROM documents WHERE id = $1", doc_id)


async def document_by_stripe_id(
    conn: asyncpg.Connection, stripe_invoice_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM documents WHERE stripe_invoice_id = $1 FOR UPDATE", stripe_invoice_id
    )


async def documents(
    conn: asyncpg.Connection,
    kind: str,
    *,
    client_id: uuid.UUID | None = None,
    contract_id: uuid.UUID | None = None,
    limit: int = 500,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT * FROM documents
        WHERE kind = $1 AND status <> 'draft'
          AND ($2::uuid IS NULL OR client_id = $2) AND ($3::uuid IS NULL OR contract_id = $3)
        ORDER BY series_year, sequence LIMIT $4
        """,
        kind,
        client_id,
        contract_id,
        limit,
    )


async def invoices_of_contract(
    conn: asyncpg.Connection, contract_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM documents WHERE kind = 'invoice' AND contract_id = $1 AND status <> 'draft'"
        " ORDER BY sequence FOR UPDATE",
        contract_id,
    )


async def credit_note_of(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM documents WHERE kind = 'credit_note' AND invoice_id = $1", invoice_id
    )


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


# --- payments and refunds (B5, B8) -----------------------------------------------------------


async def insert_payment(conn: asyncpg.Connection, **fields: Any) -> bool:
    """Record a payment; ``False`` when one with the same ``external_id`` exists."""
    cols = ", ".join(fields)
    params = ", ".join(f"${i}" for i in range(1, len(fields) + 1))
    status = await conn.execute(
        f"INSERT INTO payments ({cols}) VALUES ({params}) ON CONFLICT DO NOTHING",  # noqa: S608
        *fields.values(),
    )
    return bool(status == "INSERT 0 1")


async def add_paid(conn: asyncpg.Connection, doc_id: uuid.UUID, amount: Decimal) -> Decimal:
    value: Decimal = await conn.fetchval(
        "UPDATE documents SET amount_paid = amount_paid + $2 WHERE id = $1 RETURNING amount_paid",
        doc_id,
        amount,
    )
    return value


async def payments_of(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM payments WHERE invoice_id = $1 ORDER BY created_at", invoice_id
    )


async def insert_payment_failure(
    conn: asyncpg.Connection, external_id: str, invoice_id: uuid.UUID, reason: str
) -> bool:
    status = await conn.execute(
        "INSERT INTO payment_failures (external_id, invoice_id, reason) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        external_id,
        invoice_id,
        reason,
    )
    return bool(status == "INSERT 0 1")


async def insert_refund(
    conn: asyncpg.Connection, credit_note_id: uuid.UUID, invoice_id: uuid.UUID, amount: Decimal
) -> uuid.UUID | None:
    value: uuid.UUID | None = await conn.fetchval(
        "INSERT INTO refunds (id, credit_note_id, invoice_id, amount, status)"
        " VALUES ($1, $2, $3, $4, 'pending') ON CONFLICT DO NOTHING RETURNING id",
        uuid.uuid4(),
        credit_note_id,
        invoice_id,
        amount,
    )
    return value


async def refund_for(conn: asyncpg.Connection, credit_note_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM refunds WHERE credit_note_id = $1 FOR UPDATE", credit_note_id
    )


async def refund_by_stripe_id(
    conn: asyncpg.Connection, stripe_refund_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM refunds WHERE stripe_refund_id = $1 FOR UPDATE", stripe_refund_id
    )


async def update_refund(
    conn: asyncpg.Connection, refund_id: uuid.UUID, status: str, stripe_refund_id: str | None
) -> None:
    await conn.execute(
        "UPDATE refunds SET status = $2, stripe_refund_id = coalesce($3, stripe_refund_id),"
        " updated_at = now() WHERE id = $1",
        refund_id,
        status,
        stripe_refund_id,
    )


async def add_refunded(conn: asyncpg.Connection, invoice_id: uuid.UUID, amount: Decimal) -> None:
    await conn.execute(
        "UPDATE documents SET amount_refunded = amount_refunded + $2 WHERE id = $1",
        invoice_id,
        amount,
    )


# --- Stripe jobs (durable outside calls) ------------------------------------------------------


async def enqueue_job(conn: asyncpg.Connection, kind: str, document_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO stripe_jobs (id, kind, document_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (kind, document_id) DO NOTHING",
        uuid.uuid4(),
        kind,
        document_id,
    )


async def claim_job(conn: asyncpg.Connection) -> asyncpg.Record | None:
    """The next due job, locked for this transaction (other workers skip it)."""
    return await conn.fetchrow(
        """
        SELECT * FROM stripe_jobs WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at FOR UPDATE SKIP LOCKED LIMIT 1
        """
    )


async def finish_job(conn: asyncpg.Connection, job_id: uuid.UUID) -> None:
    await conn.execute(
        "UPDATE stripe_jobs SET status = 'done', done_at = now(), attempts = attempts + 1"
        " WHERE id = $1",
        job_id,
    )


async def retry_job(
    conn: asyncpg.Connection, job_id: uuid.UUID, error: str, delay_s: float, give_up: bool
) -> None:
    await conn.execute(
        """
        UPDATE stripe_jobs SET attempts = attempts + 1, last_error = $2,
            next_attempt_at = now() + make_interval(secs => $3),
            status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END
        WHERE id = $1
        """,
        job_id,
        error[:2000],
        delay_s,
        give_up,
    )


async def job_status(conn: asyncpg.Connection, kind: str, document_id: uuid.UUID) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT status FROM stripe_jobs WHERE kind = $1 AND document_id = $2", kind, document_id
    )
    return value


async def jobs(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM stripe_jobs ORDER BY created_at")


# --- webhook log (B8, R3) ------------------------------------------------------------------


async def store_webhook(
    conn: asyncpg.Connection,
    source: str,
    external_id: str,
    type_: str,
    payload: dict[str, Any],
    via: str,
) -> bool:
    """Store an inbound event once; ``False`` for a replay of one already stored."""
    status = await conn.execute(
        "INSERT INTO webhook_events (source, external_id, type, payload, received_via)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, external_id) DO NOTHING",
        source,
        external_id,
        type_,
        payload,
        via,
    )
    return bool(status == "INSERT 0 1")


async def claim_webhook(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT * FROM webhook_events WHERE processed_at IS NULL AND attempts < 20
        ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1
        """
    )


async def webhook_done(conn: asyncpg.Connection, row_id: int) -> None:
    await conn.execute(
        "UPDATE webhook_events SET processed_at = now(), attempts = attempts + 1 WHERE id = $1",
        row_id,
    )


async def webhook_failed(conn: asyncpg.Connection, row_id: int, error: str) -> None:
    await conn.execute(
        "UPDATE webhook_events SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
        row_id,
        error[:2000],
    )


async def reconciliation_mark(conn: asyncpg.Connection, source: str) -> int | None:
    value: int | None = await conn.fetchval(
        "SELECT checked_to FROM reconciliation_state WHERE source = $1", source
    )
    return value


async def set_reconciliation_mark(conn: asyncpg.Connection, source: str, checked_to: int) -> None:
    await conn.execute(
        "INSERT INTO reconciliation_state (source, checked_to) VALUES ($1, $2)"
        " ON CONFLICT (source) DO UPDATE SET checked_to = greatest(reconciliation_state.checked_to,"
        " EXCLUDED.checked_to), updated_at = now()",
        source,
        checked_to,
    )


async def contract_billing(
    conn: asyncpg.Connection, contract_id: uuid.UUID
) -> dict[str, Any] | None:
    """Totals of one contract's documents, its charges waiting for a price, its refunds."""
    contract = await conn.fetchrow("SELECT * FROM contracts WHERE contract_id = $1", contract_id)
    if contract is None:
        return None
    docs = await conn.fetch(
        "SELECT kind, status, total_ttc, amount_paid, amount_refunded FROM documents"
        " WHERE contract_id = $1 AND status <> 'draft'",
        contract_id,
    )
    awaiting = await conn.fetchval(
        "SELECT count(*) FROM charges WHERE contract_id = $1 AND status = 'awaiting_price'",
        contract_id,
    )
    return {"contract": contract, "documents": docs, "awaiting": int(awaiting)}
