"""HTTP route of dunning (B10): an invoice's lateness, penalties and reminders."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.calendar import business_today
from prisme_chassis.errors import problems
from prisme_chassis.money import money_str
from prisme_chassis.wire import IsoDate
from pydantic import BaseModel, Field

from .. import dunning, errors
from .. import repository as repo
from ..context import BillingRuntimeDep

router = APIRouter(tags=["dunning"])


class ReminderOut(BaseModel):
    stage_days: int = Field(description="Days after the due date (7, 21)")
    due_on: date
    outstanding: str
    penalty: str


class DunningOut(BaseModel):
    invoice_id: uuid.UUID
    on: date
    overdue: bool
    overdue_since: date | None
    days_late: int
    outstanding: str
    penalty_rate_percent: str
    late_penalty: str = Field(description="Computed and shown, never added to the invoice")
    recovery_indemnity: str = Field(description="40.00 once late (art. D441-5), never added")
    currency: str = "EUR"
    reminders: list[ReminderOut]


@router.get("/v1/invoices/{invoice_id}/dunning", responses=problems(errors.InvoiceNotFound))
async def invoice_dunning(
    invoice_id: uuid.UUID,
    conn: Tx,
    rt: BillingRuntimeDep,
    on: IsoDate | None = None,
    who: Principal = require_scopes("billing:read"),
) -> DunningOut:
    """B10: how late the invoice is on ``on`` (default today in La Réunion), the penalties
    and the indemnity it states, and the reminders sent."""
    invoice = await repo.document(conn, invoice_id)
    if invoice is None or invoice["kind"] != "invoice" or invoice["status"] == "draft":
        raise errors.InvoiceNotFound("no such invoice", invoice_id=invoice_id)
    d = await dunning.state(
        conn, invoice, on or business_today(), rt.settings.late_penalty_rate_percent
    )
    return DunningOut(
        invoice_id=invoice_id,
        on=d.on,
        overdue=d.overdue,
        overdue_since=d.overdue_since,
        days_late=d.days_late,
        outstanding=money_str(d.outstanding),
        penalty_rate_percent=f"{d.penalty_rate_percent:.2f}",
        late_penalty=money_str(d.penalty),
        recovery_indemnity=money_str(d.indemnity),
        reminders=[
            ReminderOut(
                stage_days=r["stage_days"],
                due_on=r["due_on"],
                outstanding=money_str(r["outstanding"]),
                penalty=money_str(r["penalty"]),
            )
            for r in d.reminders
        ],
    )
