"""Routes e-mailing a document again to the practice's manager (B11)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from prisme_chassis import audit
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems

from .. import errors, mailing
from .documents import EmailOut, _emails

router = APIRouter(tags=["billing"])


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
