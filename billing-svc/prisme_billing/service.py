"""Invoicing use cases (B1-B6): contract events and price-book changes become documents.

No SQL and no HTTP here; the edge (route or bus handler) owns the transaction.
"""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
from prisme_chassis import audit
from prisme_chassis.bus import enqueue, next_version
from prisme_chassis.calendar import business_today
from prisme_chassis.money import ZERO, money_str
from prisme_chassis.year_end import YearEndEffects
from prisme_events import (
    ClientCorrected,
    ClientSnapshot,
    ContractActivated,
    ContractAmended,
    ContractEnded,
    ContractEvent,
    CreditNoteIssued,
    InvoiceIssued,
)
from prisme_events.projection import ContractProjection, project

from . import domain, mailing, payments, stripe_jobs
from . import repository as repo
from .errors import ClientUnknown, DuplicateOffer


def _buyer(client: ClientSnapshot) -> dict[str, str]:
    return {
        "name": client.name,
        "siren": client.siren,
        "line1": client.address.line1,
        "postal_code": client.address.postal_code,
        "city": client.address.city,
        "manager_name": client.manager.name,
        "email": client.manager.email,
    }


async def client_corrected(conn: asyncpg.Connection, ev: ClientCorrected) -> None:
    """C8: later documents use the corrected identity; finalised ones keep theirs (their
    ``buyer`` was frozen when they were issued)."""
    if await repo.correct_client(conn, _buyer(ev.client), ev.client.client_id, ev.version):
        await stripe_jobs.update_customer(conn, ev.client.client_id, ev.version)
        await audit.record(
            conn,
            audit.Actor.event(ev),
            "client.corrected",
            target_type="client",
            target_id=ev.client.client_id,
            client_id=ev.client.client_id,
            after=_buyer(ev.client) | {"version": ev.version},
        )


async def _contract_row(conn: asyncpg.Connection, ev: ContractEvent) -> asyncpg.Record:
    """Billing's row for the event's contract, created on first sight and locked."""
    await repo.insert_contract(
        conn,
        contract_id=ev.contract_id,
        client_id=ev.client_id,
        offer=ev.offer,
        year=ev.year,
        version=0,
        status="active",
    )
    row = await repo.lock_contract(conn, ev.contract_id)
    assert row is not None
    return row


async def _project(conn: asyncpg.Connection, ev: ContractEvent) -> ContractProjection:
    """Read billing's row, project the event (prisme_events.projection: version gate, any
    order), write back what changed; the state after the event."""
    row = await _contract_row(conn, ev)
    stored = ContractProjection.from_stored(
        row["contract_id"],
        row["client_id"],
        row["version"],
        row["status"],
        year=row["year"],
        offer=row["offer"],
        postes=row["postes"],
        activated=row["activated_seen"],
        start_date=row["start_date"],
        end_reason=row["end_reason"],
        end_effective=row["end_effective"],
    )
    projected = project(stored, ev)
    if projected is None:
        return stored
    await repo.update_contract(
        conn,
        ev.contract_id,
        version=projected.version,
        offer=projected.offer,
        postes=projected.postes,
        status="ended" if projected.is_terminal else "active",
        end_reason=projected.end_reason,
        end_effective=projected.end_effective,
        activated_seen=projected.activated,
        start_date=projected.start_date,
    )
    return projected


# --- contract events (handlers call exactly one of these) -------------------------------------


async def contract_activated(conn: asyncpg.Connection, ev: ContractActivated) -> None:
    """B2: invoice the year from the start date (or wait for a price, B1)."""
    await _project(conn, ev)
    await repo.upsert_client(conn, _buyer(ev.client), ev.client_id)
    await repo.insert_charge(
        conn,
        id=uuid.uuid4(),
        source_key=f"activation:{ev.contract_id}",
        kind="activation",
        contract_id=ev.contract_id,
        client_id=ev.client_id,
        offer=ev.offer,
        level=ev.level,
        postes_before=0,
        postes=ev.postes,
        effective_date=ev.start_date,
        status="awaiting_price",
    )
    await invoice_awaiting_charges(conn, [(ev.offer, ev.level)], by=audit.Actor.event(ev))


async def contract_amended(conn: asyncpg.Connection, ev: ContractAmended) -> None:
    """B4: adding postes bills the added yearly amount from the effective date."""
    await _project(conn, ev)
    await repo.upsert_client(conn, _buyer(ev.client), ev.client_id)
    if ev.postes <= ev.postes_before:
        return  # B4: removing postes refunds nothing
    await repo.insert_charge(
        conn,
        id=uuid.uuid4(),
        source_key=f"amendment:{ev.amendment_id}",
        kind="amendment",
        contract_id=ev.contract_id,
        client_id=ev.client_id,
        offer=ev.offer,
        level=ev.level,
        postes_before=ev.postes_before,
        postes=ev.postes,
        effective_date=ev.effective_date,
        status="awaiting_price",
    )
    await invoice_awaiting_charges(conn, [(ev.offer, ev.level)], by=audit.Actor.event(ev))


async def contract_ended(conn: asyncpg.Connection, ev: ContractEnded) -> None:
    """C2/C6: record the end; for cessation credit the unused days (B5).

    The end is final whatever the order of arrival: an activation or amendment seen later
    is still invoiced and then credited by :func:`_credit_after_cessation`.
    """
    await _project(conn, ev)
    if ev.reason == "cessation":
        await _credit_after_cessation(conn, ev.contract_id, by=audit.Actor.event(ev))


async def year_end_effects(conn: asyncpg.Connection, year: int) -> YearEndEffects:
    """C2 at the year-end (issue 12): the year's ended contracts billing has recorded, and
    those whose billing is closed: everything of the year invoiced (a charge still waiting
    for a price, B1, keeps it open until the price book has it; a cessation's credit note,
    B5, is issued with the end itself)."""
    row = await repo.year_end_effects(conn, year)
    ended, closed = int(row["contracts_ended"]), int(row["closed"])
    return YearEndEffects(
        year=year,
        unit="contracts",
        contracts_ended=ended,
        done=closed,
        remaining=ended - closed,
        failed=ended - closed,  # waits for a price-book change (O2)
    )


# --- price book (B1) ---------------------------------------------------------------------------


async def replace_price_book(
    conn: asyncpg.Connection,
    prices: list[domain.Price],
    actor: str,
    approved_by: str | None = None,
    *,
    by: audit.Actor,
) -> int:
    """Write a new price-book version, then invoice what was waiting for those prices. Run
    when a change is approved (O2, price_changes)."""
    check_price_book(prices)
    version = await repo.write_price_book(conn, prices, actor, approved_by)
    await invoice_awaiting_charges(conn, [p.key for p in prices], by=by)
    return version


def check_price_book(prices: list[domain.Price]) -> None:
    """B1: one price per (offer, level)."""
    keys = [p.key for p in prices]
    if len(set(keys)) != len(keys):
        raise DuplicateOffer(
            "an (offer, level) appears twice in the price book",
            prices=[f"{o}/{lv}" for o, lv in keys],
        )


async def sweep_awaiting_charges(conn: asyncpg.Connection) -> int:
    """Invoice whatever waits for a price the current book has. Run periodically: a charge
    committed while a price-book change was being applied is not seen by that change."""
    book = await repo.current_price_book(conn)
    return await invoice_awaiting_charges(
        conn, [p.key for p in book.prices], by=audit.Actor.system("awaiting-price-sweep")
    )


async def invoice_awaiting_charges(
    conn: asyncpg.Connection, keys: list[domain.PriceKey], *, by: audit.Actor
) -> int:
    """Invoice every charge of ``keys`` (offer, level) still waiting, if the current book
    prices it; each invoice (and cessation credit note) is audited as done ``by`` (O3)."""
    book = await repo.current_price_book(conn)
    prices = {p.key: p for p in book.prices}
    issued = 0
    for charge in await repo.charges_awaiting(conn, [k for k in keys if k in prices]):
        price = prices[(charge["offer"], charge["level"])]
        if charge["kind"] == "activation":
            line = domain.activation_charge(price, charge["postes"], charge["effective_date"])
        else:
            extra = domain.amendment_charge(
                price, charge["postes_before"], charge["postes"], charge["effective_date"]
            )
            if extra is None:
                await repo.resolve_charge(conn, charge["id"], "nothing_due", None)
                continue
            line = extra
        contract = await repo.lock_contract(conn, charge["contract_id"])
        await _issue_invoice(conn, charge, [line], book.version, by=by)
        issued += 1
        if contract is not None and contract["end_reason"] == "cessation":
            await _credit_after_cessation(conn, charge["contract_id"], by=by)
    return issued


# --- documents ---------------------------------------------------------------------------------


def new_line(charge: domain.Charge, credits_position: int | None = None) -> repo.NewLine:
    # B3: the line's HT comes from its TTC total, the unit price HT from the unit price TTC.
    return repo.NewLine(
        description=charge.description,
        quantity=charge.quantity,
        unit_code=charge.unit_code,
        unit_ttc=charge.unit_ttc,
        unit_ht=domain.split_ttc(charge.unit_ttc).ht,
        yearly_ttc=charge.yearly_ttc,
        postes=charge.postes,
        prorata=charge.prorata,
        period_start=charge.period_start,
        period_end=charge.period_end,
        amounts=domain.split_ttc(charge.amount_ttc),
        credits_position=credits_position,
    )


async def _buyer_of(conn: asyncpg.Connection, client_id: uuid.UUID) -> dict[str, str]:
    row = await repo.client(conn, client_id)
    if row is None:
        raise ClientUnknown("unknown client: no contract event described it", client_id=client_id)
    return {
        "name": row["name"],
        "siren": row["siren"],
        "line1": row["address_line1"],
        "postal_code": row["postal_code"],
        "city": row["city"],
        "manager_name": row["manager_name"],
        "email": row["email"],
    }


async def finalise(
    conn: asyncpg.Connection, doc_id: uuid.UUID, kind: str, today: date | None = None
) -> str:
    """B6: allocate the next number of the series and freeze the document, in the caller's
    transaction (a rollback gives the number back, so the series has no gap)."""
    today = today or business_today()
    sequence = await repo.allocate_number(conn, kind, today.year)
    number = domain.document_number(kind, today.year, sequence)
    await repo.mark_finalised(
        conn,
        doc_id,
        number=number,
        year=today.year,
        sequence=sequence,
        issue_date=today,
        # BR-CO-25: every document states when it is due; a credit note applies at once.
        due_date=domain.due_date(today) if kind == "invoice" else today,
        status="open" if kind == "invoice" else "issued",
    )
    # B11: the document goes to the practice's manager by e-mail, once, after this commits.
    await mailing.document_finalised(conn, doc_id)
    return number


async def create_draft_invoice(
    conn: asyncpg.Connection,
    contract_id: uuid.UUID | None,
    client_id: uuid.UUID,
    charges: list[domain.Charge],
    price_book_version: int | None,
    purpose: str = "yearly",
) -> tuple[uuid.UUID, domain.Amounts]:
    new_lines = [new_line(c) for c in charges]
    totals = domain.sum_amounts([ln.amounts for ln in new_lines])
    doc_id = await repo.insert_draft(
        conn,
        kind="invoice",
        contract_id=contract_id,
        client_id=client_id,
        buyer=await _buyer_of(conn, client_id),
        lines=new_lines,
        totals=totals,
        price_book_version=price_book_version,
        purpose=purpose,
    )
    return doc_id, totals


async def _issue_invoice(
    conn: asyncpg.Connection,
    charge: asyncpg.Record,
    charges: list[domain.Charge],
    price_book_version: int,
    *,
    by: audit.Actor,
) -> uuid.UUID:
    contract_id, client_id = charge["contract_id"], charge["client_id"]
    doc_id, totals = await create_draft_invoice(
        conn,
        contract_id,
        client_id,
        charges,
        price_book_version,
        purpose="additional" if charge["kind"] == "amendment" else "yearly",
    )
    await repo.resolve_charge(conn, charge["id"], "invoiced", doc_id)
    # The Stripe invoice is created by a job, after this transaction commits (B8).
    await stripe_jobs.push_invoice(conn, doc_id)
    # B6: the number is taken last, so the series' counter row stays locked only for the
    # few statements left before commit (every issuing transaction queues on it).
    today = business_today()
    number = await finalise(conn, doc_id, "invoice", today)
    await enqueue(
        conn,
        InvoiceIssued(
            client_id=client_id,
            contract_id=contract_id,
            invoice_id=doc_id,
            version=await next_version(conn, "invoice", doc_id),
            number=number,
            total_ttc=money_str(totals.ttc),
            kind="amendment" if charge["kind"] == "amendment" else "activation",
            year=charges[0].period_start.year,
            issue_date=today,
            due_date=domain.due_date(today),
        ),
    )
    await audit.record(
        conn,
        by,
        "invoice.issued",
        target_type="invoice",
        target_id=doc_id,
        client_id=client_id,
        detail={
            "number": number,
            "contract_id": contract_id,
            "charge": charge["source_key"],
            "total_ttc": money_str(totals.ttc),
            "price_book_version": price_book_version,
        },
    )
    return doc_id


async def _credit_after_cessation(
    conn: asyncpg.Connection, contract_id: uuid.UUID, *, by: audit.Actor
) -> None:
    """B5: one credit note per invoice of the contract for its unused days, never more than
    what earlier credit notes left of the invoice (B6); what was paid beyond what is still
    owed is refunded (through Stripe when paid there, else as a manual refund)."""
    contract = await repo.lock_contract(conn, contract_id)
    assert contract is not None
    effective: date = contract["end_effective"]
    invoices = await repo.invoices_of_contract(conn, contract_id)
    all_lines = await repo.lines(conn, [inv["id"] for inv in invoices])
    for invoice in invoices:
        if await repo.cessation_credit_of(conn, invoice["id"]) is not None:
            continue
        credited, per_line = await repo.credited(conn, invoice["id"])
        left = invoice["total_ttc"] - credited
        new_lines = []
        for ln in all_lines[invoice["id"]]:
            credit = domain.credit_for_cessation(
                domain.InvoicedLine(
                    ln["description"],
                    ln["yearly_ttc"],
                    ln["period_start"],
                    ln["period_end"],
                    ln["total_ttc"] - per_line.get(ln["position"], ZERO),
                    ln["postes"],
                ),
                effective,
            )
            if credit is None or left <= 0:
                continue
            if credit.amount_ttc > left:  # B6: never more than the invoice
                credit = domain.capped(credit, left)
            left -= credit.amount_ttc
            new_lines.append(new_line(credit, credits_position=ln["position"]))
        if not new_lines:
            continue  # B5: nothing unused, nothing owed
        note_id, number = await issue_credit_note(
            conn, invoice, new_lines, purpose="cessation", reason=None
        )
        await audit.record(
            conn,
            by,
            "credit_note.issued",
            target_type="credit_note",
            target_id=note_id,
            client_id=invoice["client_id"],
            reason="cessation",
            detail={
                "number": number,
                "invoice_id": invoice["id"],
                "invoice_number": invoice["number"],
                "contract_id": contract_id,
                "effective_date": effective,
                "total_ttc": money_str(domain.sum_amounts([ln.amounts for ln in new_lines]).ttc),
            },
        )


async def issue_credit_note(
    conn: asyncpg.Connection,
    invoice: asyncpg.Record,
    new_lines: list[repo.NewLine],
    *,
    purpose: str,
    reason: str | None,
) -> tuple[uuid.UUID, str]:
    """B5/B6: finalise a credit note against ``invoice`` (A series), publish it, refund what
    is then overpaid, and close the invoice when nothing is left to pay."""
    totals = domain.sum_amounts([ln.amounts for ln in new_lines])
    note_id = await repo.insert_draft(
        conn,
        kind="credit_note",
        contract_id=invoice["contract_id"],
        client_id=invoice["client_id"],
        buyer=invoice["buyer"],
        lines=new_lines,
        totals=totals,
        invoice_id=invoice["id"],
        purpose=purpose,
        reason=reason,
    )
    number = await finalise(conn, note_id, "credit_note")
    await enqueue(
        conn,
        CreditNoteIssued(
            client_id=invoice["client_id"],
            contract_id=invoice["contract_id"],
            credit_note_id=note_id,
            version=await next_version(conn, "credit_note", note_id),
            invoice_id=invoice["id"],
            number=number,
            total_ttc=money_str(totals.ttc),
            invoice_number=invoice["number"],
        ),
    )
    await payments.refund_if_credited(conn, invoice["id"])
    credited, _ = await repo.credited(conn, invoice["id"])
    if credited >= invoice["total_ttc"] and invoice["status"] in ("open", "payment_failed"):
        await repo.set_status(conn, invoice["id"], "credited")
    return note_id, number
