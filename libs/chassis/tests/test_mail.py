"""prisme_chassis.mail against a real SMTP server (aiosmtpd on a free port)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from prisme_chassis.jobs import PermanentFailure
from prisme_chassis.keys import generate_keypair
from prisme_chassis.mail import Attachment, Mailer, OutgoingMail, SmtpSettings, message_id
from prisme_chassis.settings import ServiceSettings
from prisme_localinfra import free_port
from pydantic import ValidationError

PUBLIC_PEM = generate_keypair()[1]


class Keep:
    def __init__(self, refuse: str | None = None) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.refuse = refuse

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse and address.endswith(self.refuse):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.received.append(([str(r) for r in envelope.rcpt_tos], bytes(raw)))
        return "250 accepted"


async def _server(handler: Keep) -> tuple[asyncio.Server, int]:
    port = free_port()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), host="127.0.0.1", port=port)
    return server, port


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Keep, int]]:
    handler = Keep(refuse="@refused.test")
    server, port = await _server(handler)
    yield handler, port
    server.close()
    await server.wait_closed()


def _mail(*to: str) -> OutgoingMail:
    return OutgoingMail(
        sender="Facturation <facturation@prisme.test>",
        to=list(to),
        subject="Votre facture F2026-000001 — réglée à réception",
        body="Bonjour,\n\nVeuillez trouver ci-joint votre facture.\n",
        message_id=message_id("document-42"),
        date=datetime(2026, 3, 15, 8, 0, tzinfo=UTC),
        attachments=[Attachment("F2026-000001.pdf", b"%PDF-1.7 fake bytes\x00\xff")],
    )


async def test_a_message_with_its_attachment_reaches_the_server(smtp: tuple[Keep, int]) -> None:
    handler, port = smtp
    await Mailer(SmtpSettings(smtp_port=port)).send(_mail("gerant@cabinet.test"))
    [(rcpt, raw)] = handler.received
    assert rcpt == ["gerant@cabinet.test"]
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == "Votre facture F2026-000001 — réglée à réception"
    assert parsed["Message-ID"] == "<document-42@prisme>"
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    assert "ci-joint" in body.get_content()
    [part] = list(parsed.iter_attachments())
    assert part.get_filename() == "F2026-000001.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == b"%PDF-1.7 fake bytes\x00\xff"


async def test_every_recipient_refused_is_a_permanent_failure(smtp: tuple[Keep, int]) -> None:
    handler, port = smtp
    with pytest.raises(PermanentFailure, match="550"):
        await Mailer(SmtpSettings(smtp_port=port)).send(_mail("nobody@refused.test"))
    assert handler.received == []


async def test_a_relay_down_raises_something_the_job_retries() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises((OSError, aiosmtplib.SMTPException)) as caught:
        await Mailer(SmtpSettings(smtp_port=port, smtp_timeout_s=5)).send(_mail("a@b.test"))
    assert not isinstance(caught.value, PermanentFailure)


def test_message_needs_a_recipient_and_a_msg_id() -> None:
    with pytest.raises(ValueError, match="recipient"):
        _mail()
    with pytest.raises(ValueError, match="msg-id"):
        OutgoingMail("a@b", ["c@d"], "s", "b", "no-brackets", datetime.now(UTC))


class SendingSettings(ServiceSettings, SmtpSettings):
    pass


def test_the_relay_is_one_platform_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PRISME_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PRISME_SMTP_HOST", "smtp.example.re")
    monkeypatch.setenv("PRISME_SMTP_PORT", "587")
    monkeypatch.setenv("PRISME_SMTP_STARTTLS", "true")
    monkeypatch.setenv("PRISME_SMTP_PASSWORD", "relay-pass-123")
    s = SendingSettings(jwt_public_key=PUBLIC_PEM, env="production")
    assert (s.smtp_host, s.smtp_port, s.smtp_starttls) == ("smtp.example.re", 587, True)
    assert "relay-pass-123" not in repr(s)
    monkeypatch.delenv("PRISME_SMTP_STARTTLS")
    with pytest.raises(ValidationError, match="TLS"):
        SendingSettings(jwt_public_key=PUBLIC_PEM, env="production")
    # outside production the sandbox needs no TLS
    assert SendingSettings(jwt_public_key=PUBLIC_PEM).smtp_password is not None
