"""B11 (and B10's reminders): documents e-mailed to the practice's manager, through the chassis
job queue and the real mail sandbox (services/mail-sandbox, SMTP + its read API)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import facturx
import httpx
import pytest
from prisme_billing import dunning
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_chassis.db import create_pool, transaction
from prisme_chassis.money import eur_fr
from prisme_localinfra import free_port
from prisme_mail_sandbox.app import create_app as create_mail_sandbox
from prisme_testing.plugin import publish_event, start_service

from .conftest import Schematron, pdfa_structure
from .test_stripe import _invoice

Wait = Callable[..., Awaitable[Any]]
MANAGER = "gerant@lilas.example"  # prisme_testing.factories.client_snapshot's manager


@contextlib.asynccontextmanager
async def mail_sandbox(smtp_port: int) -> AsyncIterator[httpx.AsyncClient]:
    async with start_service(create_mail_sandbox(smtp_port=smtp_port)) as http:
        yield http


async def _mails(http: httpx.AsyncClient, subject: str | None = None) -> list[dict[str, Any]]:
    params = {"to": MANAGER} | ({"subject": subject} if subject else {})
    return list((await http.get("/api/messages", params=params)).json())


async def _raw(http: httpx.AsyncClient, message_id: str) -> EmailMessage:
    raw = (await http.get(f"/api/messages/{message_id}/raw")).content
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def _pdf(message: EmailMessage) -> tuple[str, bytes]:
    (part,) = list(message.iter_attachments())
    assert part.get_content_type() == "application/pdf"
    return str(part.get_filename()), bytes(part.get_content())


def _valid_factur_x(pdf: bytes, schematron: Schematron) -> None:
    pdfa_structure(pdf)
    _, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert schematron.fatal(xml) == []


async def _until_sent(api: httpx.AsyncClient, wait_for: Wait, path: str, n: int) -> list[Any]:
    async def sent() -> list[Any] | None:
        emails = (await api.get(path)).json()["emails"]
        done = [e for e in emails if e["status"] == "sent"]
        return emails if len(done) >= n else None

    return list(await wait_for(sent, 30, f"{n} e-mail(s) of {path} recorded as sent"))


async def test_invoice_credit_note_and_reminder_go_to_the_manager_with_their_factur_x(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    ended: Callable[..., Any],
    wait_for: Wait,
    schematron: Schematron,
) -> None:
    smtp = free_port()
    s = billing_settings.model_copy(update={"smtp_port": smtp})
    async with mail_sandbox(smtp) as mail, start_service(build_app(s), headers=auth_headers) as api:
        act = activated(postes=8, start=date(2026, 3, 15))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        (email,) = await _until_sent(api, wait_for, f"/v1/invoices/{inv['id']}", 1)
        assert (email["purpose"], email["recipient"], email["requested_by"]) == (
            "issued",
            MANAGER,
            "system",
        )

        (summary,) = await _mails(mail)
        assert summary["to"] == [MANAGER]
        assert summary["subject"] == f"Facture {inv['number']} — REUNIONINFORMATIQUE.COM"
        message = await _raw(mail, summary["id"])
        assert message["Message-ID"] == email["message_id"]
        text = _text(message)
        assert f"Veuillez trouver ci-joint la facture n° {inv['number']}" in text
        assert eur_fr(Decimal(inv["total_ttc"])) + " TTC" in text
        assert f"au plus tard le {date.fromisoformat(inv['due_date']):%d/%m/%Y}" in text
        name, pdf = _pdf(message)
        assert name == f"{inv['number']}.pdf"
        assert pdf == (await api.get(f"/v1/invoices/{inv['id']}/pdf")).content
        _valid_factur_x(pdf, schematron)

        # the same activation again (a redelivery) mails nothing more
        await publish_event(s.nats_url, act)

        # B5: a cessation's credit note is mailed the same way
        await publish_event(s.nats_url, ended(act, date(2026, 6, 30), version=3))

        async def credit_notes() -> list[Any]:
            r = await api.get("/v1/credit-notes", params={"contract_id": str(act.contract_id)})
            return list(r.json()["items"])

        (note,) = await wait_for(credit_notes)
        await _until_sent(api, wait_for, f"/v1/credit-notes/{note['id']}", 1)
        (note_mail,) = await _mails(mail, subject="Avoir")
        assert note_mail["subject"].startswith(
            f"Avoir {note['number']} sur la facture {inv['number']}"
        )
        note_message = await _raw(mail, note_mail["id"])
        assert f"l'avoir n° {note['number']}" in _text(note_message)
        name, note_pdf = _pdf(note_message)
        assert name == f"{note['number']}.pdf"
        _valid_factur_x(note_pdf, schematron)

        # B11: an operator sends the invoice again: a second e-mail, recorded and audited
        r = await api.post(f"/v1/invoices/{inv['id']}/send")
        assert r.status_code == 202, r.text
        assert r.json()["purpose"] == "resend"
        emails = await _until_sent(api, wait_for, f"/v1/invoices/{inv['id']}", 2)
        assert [e["purpose"] for e in emails] == ["issued", "resend"]
        invoice_mails = [
            m for m in await _mails(mail) if m["subject"].startswith(f"Facture {inv['number']}")
        ]
        assert len(invoice_mails) == 2
        trail = (await api.get("/v1/audit", params={"target": inv["id"]})).json()["items"]
        (resent,) = [e for e in trail if e["action"] == "document.resent"]
        assert resent["detail"]["number"] == inv["number"]
        r = await api.post(f"/v1/invoices/{uuid.uuid4()}/send")
        assert r.status_code == 404

    # B10: a reminder at +7 days, with the invoice attached and the penalties stated
    act2 = activated(postes=6, start=date(2026, 1, 1))
    async with mail_sandbox(smtp) as mail, start_service(build_app(s), headers=auth_headers) as api:
        await publish_event(s.nats_url, act2)
        inv2 = await _invoice(api, wait_for, act2.contract_id)
        await _until_sent(api, wait_for, f"/v1/invoices/{inv2['id']}", 1)
        due = date.fromisoformat(inv2["due_date"])
        pool = await create_pool(s.database_url, max_size=2)
        try:
            for _ in range(2):  # a second run on the same day records and mails nothing more
                async with transaction(pool) as conn:
                    await dunning.run(conn, due + timedelta(days=8), s.late_penalty_rate_percent)
        finally:
            await pool.close()
        emails = await _until_sent(api, wait_for, f"/v1/invoices/{inv2['id']}", 2)
        assert [(e["purpose"], e["reminder_stage"]) for e in emails] == [
            ("issued", None),
            ("reminder", 7),
        ]
        # (the first practice's invoice, still partly owed, is reminded too)
        (reminder,) = await _mails(mail, subject=f"Relance : facture {inv2['number']}")
        assert reminder["subject"].startswith(
            f"Relance : facture {inv2['number']} échue le {due:%d/%m/%Y}"
        )
        text = _text(await _raw(mail, reminder["id"]))
        assert "pénalités de retard" in text
        assert "40,00" in text
        assert "ne sont pas ajoutées à la facture" in text
        name, _ = _pdf(await _raw(mail, reminder["id"]))
        assert name == f"{inv2['number']}.pdf"


async def _mail_job(api: httpx.AsyncClient) -> dict[str, Any]:
    (job,) = (await api.get("/v1/jobs", params={"kind": "billing.mail_document"})).json()["items"]
    return dict(job)


async def test_an_smtp_outage_is_retried_and_the_mail_goes_once(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    smtp = free_port()  # the relay is down: nothing listens yet
    s = billing_settings.model_copy(
        update={
            "smtp_port": smtp,
            "mail_job_backoff_base_s": 0.2,
            "mail_job_backoff_cap_s": 0.5,
        }
    )
    async with start_service(build_app(s), headers=auth_headers) as api:
        act = activated()
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)

        async def failed_twice() -> dict[str, Any] | None:
            job = await _mail_job(api)
            return job if job["attempts"] >= 2 and job["state"] == "queued" else None

        job = await wait_for(failed_twice, 30, "the mail job retried during the outage")
        assert job["last_error"]
        (email,) = (await api.get(f"/v1/invoices/{inv['id']}")).json()["emails"]
        assert (email["status"], email["sent_at"]) == ("queued", None)

        async with mail_sandbox(smtp) as mail:  # the relay is back
            await _until_sent(api, wait_for, f"/v1/invoices/{inv['id']}", 1)
            job = await _mail_job(api)
            assert job["state"] == "succeeded"
            assert len(await _mails(mail)) == 1


@pytest.mark.parametrize("attempts", [1])
async def test_a_mail_job_out_of_attempts_shows_failed_and_an_operator_retries_it(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
    attempts: int,
) -> None:
    smtp = free_port()
    s = billing_settings.model_copy(update={"smtp_port": smtp, "mail_job_max_attempts": attempts})
    async with start_service(build_app(s), headers=auth_headers) as api:
        act = activated()
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)

        async def failed() -> dict[str, Any] | None:
            (email,) = (await api.get(f"/v1/invoices/{inv['id']}")).json()["emails"]
            return dict(email) if email["status"] == "failed" else None

        email = await wait_for(failed, 30, "the sending marked failed")
        assert email["last_error"]
        job = await _mail_job(api)
        assert job["state"] == "dead"
        async with mail_sandbox(smtp) as mail:
            r = await api.post(f"/v1/jobs/{job['id']}/retry")
            assert r.status_code == 200, r.text
            (sent,) = await _until_sent(api, wait_for, f"/v1/invoices/{inv['id']}", 1)
            assert sent["last_error"] is None
            assert len(await _mails(mail)) == 1
