"""B11: finalised invoices and credit notes, and B10's reminders, e-mailed to the practice's
manager with the document's Factur-X attached.

A sending is decided in a business transaction (the finalisation, the dunning run, an
operator's resend): a ``mailings`` row and its ``billing.mail_document`` job (key
``mail:<mailing id>``) are written together. The automatic sending of a document and each
reminder exist once (unique indexes), so a replayed event or a second dunning run sends
nothing more. The job, outside any transaction, renders (or reads) the stored PDF, sends
through the platform's relay (prisme_chassis.mail) and records the recipient, the time and
the Message-ID with its outcome; a relay outage is retried with back-off, a job that runs out
of attempts marks the sending failed (and an operator can retry it on ``/v1/jobs``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial
from typing import cast

import asyncpg
from prisme_chassis import audit, jobs
from prisme_chassis.clock import now
from prisme_chassis.mail import Attachment, Mailer, OutgoingMail, message_id

from . import mail_texts, queries
from . import repository as repo
from .errors import DocumentNotFound
from .settings import BillingSettings

#: B11: one e-mail of a document (its automatic sending, a resend or a reminder).
MAIL_DOCUMENT = jobs.JobKind("billing.mail_document", max_attempts=30, backoff_base=10.0)

SYSTEM = "system"


def job_key(mailing_id: uuid.UUID) -> str:
    return f"mail:{mailing_id}"


async def _request(
    conn: asyncpg.Connection,
    document_id: uuid.UUID,
    *,
    purpose: str,
    requested_by: str,
    reminder_stage: int | None = None,
) -> uuid.UUID | None:
    mailing_id = uuid.uuid4()
    created = await repo.insert_mailing(
        conn,
        mailing_id=mailing_id,
        document_id=document_id,
        purpose=purpose,
        reminder_stage=reminder_stage,
        requested_by=requested_by,
        requested_at=now(),
        # stable per sending: a run repeated after a crash sends the same message again
        message_id=message_id(f"mail-{mailing_id}", "billing.prisme"),
    )
    if not created:
        return None
    await jobs.enqueue(conn, MAIL_DOCUMENT, job_key(mailing_id), {"mailing_id": str(mailing_id)})
    return mailing_id


async def document_finalised(conn: asyncpg.Connection, document_id: uuid.UUID) -> None:
    """B11: in the finalising transaction; once per document."""
    await _request(conn, document_id, purpose="issued", requested_by=SYSTEM)


async def reminder_recorded(conn: asyncpg.Connection, invoice_id: uuid.UUID, stage: int) -> None:
    """B10: in the dunning run's transaction; once per invoice and stage."""
    await _request(conn, invoice_id, purpose="reminder", requested_by=SYSTEM, reminder_stage=stage)


async def resend(
    conn: asyncpg.Connection,
    kind: str,
    document_id: uuid.UUID,
    *,
    actor: audit.Actor,
) -> asyncpg.Record:
    """B11: an operator sends a finalised document again (audited, O3); a new sending each
    time."""
    doc, _ = await queries.get_document(conn, kind, document_id)
    mailing_id = await _request(conn, document_id, purpose="resend", requested_by=actor.sub)
    assert mailing_id is not None  # a resend has no uniqueness to meet
    await audit.record(
        conn,
        actor,
        "document.resent",
        target_type=kind,
        target_id=document_id,
        client_id=doc["client_id"],
        detail={"number": doc["number"], "mailing_id": str(mailing_id)},
    )
    row = await repo.mailing(conn, mailing_id)
    assert row is not None
    return row


def _sender(settings: BillingSettings) -> mail_texts.Sender:
    return mail_texts.Sender(
        trade_name=settings.seller_trade_name,
        email=settings.seller_email,
        phone=settings.seller_phone,
        iban=settings.seller_iban,
        bic=settings.seller_bic,
        penalty_wording=settings.late_penalty(),
    )


async def _compose(
    conn: asyncpg.Connection, settings: BillingSettings, mailing: asyncpg.Record, at: datetime
) -> OutgoingMail:
    doc = await repo.document(conn, mailing["document_id"])
    if doc is None or doc["status"] == "draft":
        raise jobs.PermanentFailure(f"document {mailing['document_id']} is not finalised")
    buyer = doc["buyer"]
    # The manager as billing knows them now (C8 may have corrected the address since the
    # document was issued; the document keeps the identity it was issued with).
    client = await repo.client(conn, doc["client_id"])
    recipient = (client["email"] if client is not None else "") or buyer.get("email", "")
    if not recipient:
        raise jobs.PermanentFailure(f"no e-mail address for the manager of {doc['client_id']}")
    # rendered (once, then stored) only for a mail that can be sent
    number, pdf = await queries.document_pdf(conn, doc["kind"], doc["id"], settings)
    invoice = await repo.document(conn, doc["invoice_id"]) if doc["invoice_id"] else None
    values = mail_texts.Doc(
        kind=doc["kind"],
        number=number,
        issue_date=doc["issue_date"],
        due_date=doc["due_date"] or doc["issue_date"],
        total_ttc=doc["total_ttc"],
        manager_name=buyer.get("manager_name", ""),
        practice_name=buyer.get("name", ""),
        invoice_number=invoice["number"] if invoice is not None else None,
        reason=doc["reason"],
    )
    sender = _sender(settings)
    if mailing["purpose"] == "reminder":
        reminder = await conn.fetchrow(
            "SELECT * FROM reminders WHERE invoice_id = $1 AND stage_days = $2",
            doc["id"],
            mailing["reminder_stage"],
        )
        if reminder is None:
            raise jobs.PermanentFailure("the reminder this e-mail is for does not exist")
        subject, body = mail_texts.reminder_mail(
            values,
            sender,
            stage_days=reminder["stage_days"],
            outstanding=reminder["outstanding"],
            penalty=reminder["penalty"],
        )
    else:
        subject, body = mail_texts.document_mail(values, sender)
    return OutgoingMail(
        sender=settings.mail_from,
        to=[recipient],
        reply_to=settings.seller_email,
        subject=subject,
        body=body,
        message_id=mailing["message_id"],
        date=at,
        attachments=[Attachment(f"{number}.pdf", pdf)],
    )


async def send(
    pool: asyncpg.Pool, settings: BillingSettings, mailer: Mailer, job: jobs.Job
) -> jobs.Outcome:
    """The job: compose, send (no transaction held), record with the outcome."""
    mailing_id = uuid.UUID(job.payload["mailing_id"])
    at = now()
    async with pool.acquire() as proxy:
        conn = cast(asyncpg.Connection, proxy)
        mailing = await repo.mailing(conn, mailing_id)
        if mailing is None or mailing["status"] == "sent":
            return jobs.Done()
        try:
            message = await _compose(conn, settings, mailing, at)
        except DocumentNotFound as exc:
            raise jobs.PermanentFailure(str(exc)) from exc
    await mailer.send(message)
    recipient = message.to[0]

    async def record(conn: asyncpg.Connection) -> None:
        await repo.mark_mailing_sent(conn, mailing_id, recipient, at)

    return jobs.Done(apply=record)


async def on_dead(conn: asyncpg.Connection, job: jobs.Job, error: str) -> None:
    """In the transaction that makes the job dead: the sending shows as failed."""
    await repo.mark_mailing_failed(conn, uuid.UUID(job.payload["mailing_id"]), error)


def binding(pool: asyncpg.Pool, settings: BillingSettings) -> jobs.JobBinding:
    kind = MAIL_DOCUMENT.with_policy(
        max_attempts=settings.mail_job_max_attempts,
        backoff_base=settings.mail_job_backoff_base_s,
        backoff_cap=settings.mail_job_backoff_cap_s,
    )
    return kind.handle(partial(send, pool, settings, Mailer(settings)), on_dead=on_dead)
