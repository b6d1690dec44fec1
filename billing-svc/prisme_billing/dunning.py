"""Dunning (B10): overdue invoices, reminders at +7 and +21 days, penalties shown, never added.

No SQL and no HTTP here; the worker (or a test) owns the transaction and gives ``today``, the
business day in La Réunion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import asyncpg
from prisme_chassis import audit
from prisme_chassis.bus import enqueue, next_version
from prisme_chassis.money import ZERO, money_str
from prisme_events import InvoiceOverdue

from . import domain, mailing, payments
from . import repository as repo

#: O3: who marks invoices overdue and records reminders
DUNNING = audit.Actor.system("dunning")


async def run(conn: asyncpg.Connection, today: date, penalty_rate: Decimal) -> int:
    """Mark what became overdue (publishing ``invoice.overdue`` once per invoice) and record
    the reminders each overdue invoice has reached. Idempotent; returns what changed."""
    changed = 0
    for invoice in await repo.unpaid_past_due(conn, today):
        owed = await payments.amount_due(conn, invoice)
        if owed <= 0:
            continue
        due: date = invoice["due_date"]
        if await repo.mark_overdue(conn, invoice["id"], due + timedelta(days=1)):
            changed += 1
            await enqueue(
                conn,
                InvoiceOverdue(
                    client_id=invoice["client_id"],
                    contract_id=invoice["contract_id"],
                    version=await next_version(conn, "invoice", invoice["id"]),
                    invoice_id=invoice["id"],
                    number=invoice["number"],
                    due_date=due,
                    outstanding=money_str(owed),
                ),
            )
            await audit.record(
                conn,
                DUNNING,
                "invoice.overdue",
                target_type="invoice",
                target_id=invoice["id"],
                client_id=invoice["client_id"],
                detail={
                    "number": invoice["number"],
                    "due_date": due,
                    "outstanding": money_str(owed),
                },
            )
        sent = {r["stage_days"] for r in await repo.reminders_of(conn, invoice["id"])}
        for stage in domain.reminders_due(due, today, sent):
            penalty = domain.late_penalty(owed, penalty_rate, stage)
            if await repo.insert_reminder(
                conn, invoice["id"], stage, due + timedelta(days=stage), owed, penalty
            ):
                changed += 1
                await audit.record(
                    conn,
                    DUNNING,
                    "invoice.reminder_recorded",
                    target_type="invoice",
                    target_id=invoice["id"],
                    client_id=invoice["client_id"],
                    detail={
                        "number": invoice["number"],
                        "stage_days": stage,
                        "outstanding": money_str(owed),
                        "penalty": money_str(penalty),
                    },
                )
                # B10: the reminder is e-mailed to the manager with the invoice attached.
                await mailing.reminder_recorded(conn, invoice["id"], stage)
    return changed


@dataclass(frozen=True, slots=True)
class Dunning:
    """What the invoice's page shows (B10): computed on ``on``, never added to the invoice."""

    on: date
    overdue: bool
    overdue_since: date | None
    days_late: int
    outstanding: Decimal
    penalty_rate_percent: Decimal
    penalty: Decimal
    indemnity: Decimal
    reminders: list[asyncpg.Record]


async def state(
    conn: asyncpg.Connection, invoice: asyncpg.Record, on: date, penalty_rate: Decimal
) -> Dunning:
    owed = max(ZERO, await payments.amount_due(conn, invoice))
    late = domain.days_late(invoice["due_date"], on) if owed > 0 else 0
    return Dunning(
        on=on,
        overdue=late > 0,
        overdue_since=invoice["overdue_since"],
        days_late=late,
        outstanding=owed,
        penalty_rate_percent=penalty_rate,
        penalty=domain.late_penalty(owed, penalty_rate, late),
        indemnity=domain.RECOVERY_INDEMNITY if late > 0 else ZERO,
        reminders=await repo.reminders_of(conn, invoice["id"]),
    )
