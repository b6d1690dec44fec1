"""One-off invoices (B9): on-site travel (a flat fee per zone) and work outside the contract
(hours or a fixed price), from ``intervention.recorded``, priced from the price book's items
and invoiced once per practice and month, dated the month's last day, in the F series.

No SQL and no HTTP here. The month's invoice is issued by the worker once the month is over
(on the first business day after it, La Réunion time), so every intervention of the month is
on it; an item whose price code has no price waits, visible, until the price book has it.
"""

from __future__ import annotations

import calendar
from datetime import date

import asyncpg
from prisme_chassis import audit
from prisme_chassis.bus import enqueue, next_version
from prisme_chassis.calendar import REUNION
from prisme_chassis.money import money_str
from prisme_events import InterventionRecorded, InvoiceIssued

from . import domain, service, stripe_jobs
from . import repository as repo


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


async def intervention_recorded(conn: asyncpg.Connection, ev: InterventionRecorded) -> None:
    """Keep the intervention's billable items for its month's invoice (once per item)."""
    done_on = ev.started_at.astimezone(REUNION).date()
    for position, item in enumerate(ev.billable, start=1):
        await repo.insert_one_off_item(
            conn,
            intervention_id=ev.intervention_id,
            position=position,
            client_id=ev.client_id,
            contract_id=ev.contract_id,
            month=done_on.replace(day=1),
            done_on=done_on,
            kind=item.kind,
            price_code=item.price_code,
            quantity=item.quantity,
            zone=item.zone,
        )


async def invoice_ended_months(conn: asyncpg.Connection, today: date) -> int:
    """Issue the one-off invoice of every practice and month that is over by ``today``."""
    prices = {r["code"]: r for r in await repo.price_items(conn)}
    issued = 0
    for pair in await repo.pending_months(conn, today.replace(day=1)):
        if await repo.client(conn, pair["client_id"]) is None:
            continue  # billing has not seen the practice yet (no buyer identity to print)
        items = [
            i
            for i in await repo.pending_items(conn, pair["client_id"], pair["month"])
            if i["price_code"] in prices
        ]
        if not items:
            continue
        charges = []
        for i in items:
            price = prices[i["price_code"]]
            where = f", zone {i['zone']}" if i["zone"] else ""
            charges.append(
                domain.one_off_charge(
                    price["label"],
                    i["quantity"],
                    price["unit_ttc"],
                    price["unit_code"],
                    i["done_on"],
                    f"intervention du {domain.fr_date(i['done_on'])}{where}",
                )
            )
        contracts = {i["contract_id"] for i in items}
        contract_id = contracts.pop() if len(contracts) == 1 else None
        doc_id, totals = await service.create_draft_invoice(
            conn, contract_id, pair["client_id"], charges, None, purpose="one_off"
        )
        await repo.mark_invoiced(
            conn, [(i["intervention_id"], i["position"]) for i in items], doc_id
        )
        await stripe_jobs.push_invoice(conn, doc_id)
        dated = month_end(pair["month"])
        number = await service.finalise(conn, doc_id, "invoice", dated)
        await enqueue(
            conn,
            InvoiceIssued(
                client_id=pair["client_id"],
                contract_id=contract_id,
                invoice_id=doc_id,
                version=await next_version(conn, "invoice", doc_id),
                number=number,
                total_ttc=money_str(totals.ttc),
                kind="one_off",
                year=dated.year,
                issue_date=dated,
                due_date=domain.due_date(dated),
            ),
        )
        await audit.record(
            conn,
            audit.Actor.system("one-off-invoicing"),
            "invoice.issued",
            target_type="invoice",
            target_id=doc_id,
            client_id=pair["client_id"],
            detail={
                "number": number,
                "contract_id": contract_id,
                "month": pair["month"],
                "items": len(items),
                "total_ttc": money_str(totals.ttc),
            },
        )
        issued += 1
    return issued
