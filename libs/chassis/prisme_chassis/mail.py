"""E-mail over SMTP for every service (aiosmtplib): the mail sandbox locally, the provider's
relay in production (DESIGN §6).

A service's settings inherit :class:`SmtpSettings` (one relay for the platform, variables
``PRISME_SMTP_*``) and keep their own sender; the sending itself is a job of the chassis queue
(DESIGN §3: e-mails are work that must survive a crash), whose handler builds an
:class:`OutgoingMail` and calls :meth:`Mailer.send` outside any transaction::

    class BillingSettings(ServiceSettings, SmtpSettings):
        mail_from: str = ...

    mailer = Mailer(settings)
    await mailer.send(OutgoingMail(sender=settings.mail_from, to=["gerant@cabinet.re"],
                                   subject="Facture F2026-000001", body="Bonjour, …",
                                   message_id=message_id(f"document-{doc_id}"), date=now(),
                                   attachments=[Attachment("F2026-000001.pdf", pdf)]))

SMTP has no idempotency key: a run repeated after a crash between the send and its record
sends the message again, with the same ``Message-ID`` (built from domain ids), so the
recipient's client shows it once. A refusal of every recipient (5xx) is a permanent failure
of the job (:class:`~prisme_chassis.jobs.PermanentFailure`); anything else (relay down,
4xx, time-out) raises and is retried with the job's back-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib
from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator

from .jobs import PermanentFailure


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name, f"PRISME_{name.upper()}")


class SmtpSettings(BaseModel):
    """The SMTP relay, inherited by the settings of each service that sends mail
    (``PRISME_SMTP_HOST``, ``_PORT``, ``_USERNAME``, ``_PASSWORD``, ``_STARTTLS``, ``_TLS``,
    ``_TIMEOUT_S``). Defaults: the mail sandbox on 127.0.0.1:2525, no TLS, no login."""

    smtp_host: str = Field(default="127.0.0.1", validation_alias=_alias("smtp_host"))
    smtp_port: int = Field(default=2525, ge=1, le=65535, validation_alias=_alias("smtp_port"))
    smtp_username: str | None = Field(default=None, validation_alias=_alias("smtp_username"))
    smtp_password: SecretStr | None = Field(default=None, validation_alias=_alias("smtp_password"))
    #: STARTTLS after connecting (port 587)
    smtp_starttls: bool = Field(default=False, validation_alias=_alias("smtp_starttls"))
    #: TLS from the first byte (port 465)
    smtp_tls: bool = Field(default=False, validation_alias=_alias("smtp_tls"))
    smtp_timeout_s: float = Field(default=30.0, gt=0, validation_alias=_alias("smtp_timeout_s"))

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> SmtpSettings:
        if self.smtp_tls and self.smtp_starttls:
            raise ValueError("PRISME_SMTP_TLS and PRISME_SMTP_STARTTLS exclude each other")
        if (
            getattr(self, "env", None) == "production"
            and self.smtp_password is not None
            and not (self.smtp_tls or self.smtp_starttls)
        ):
            # the relay's password would cross the network in clear (DESIGN §7)
            raise ValueError(
                "PRISME_SMTP_PASSWORD needs PRISME_SMTP_TLS or _STARTTLS in production"
            )
        return self


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mime_type: str = "application/pdf"


@dataclass(frozen=True)
class OutgoingMail:
    """One message. ``message_id`` is stable per business fact (:func:`message_id`), so a
    message sent again after a crash is recognisably the same one."""

    sender: str
    to: Sequence[str]
    subject: str
    body: str
    message_id: str
    date: datetime
    attachments: Sequence[Attachment] = field(default_factory=tuple)
    reply_to: str | None = None

    def __post_init__(self) -> None:
        if not self.to:
            raise ValueError("a message needs at least one recipient")
        if not (self.message_id.startswith("<") and self.message_id.endswith(">")):
            raise ValueError("message_id is an RFC 5322 msg-id: <left@right>")


def message_id(local: str, domain: str = "prisme") -> str:
    """``<local@domain>`` from domain ids (``document-<uuid>``, ``alert-<uuid>``)."""
    return f"<{local}@{domain}>"


def compose(mail: OutgoingMail) -> EmailMessage:
    """The MIME message: a UTF-8 text body, then each attachment."""
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.to)
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = mail.message_id
    message.set_content(mail.body)
    for a in mail.attachments:
        maintype, _, subtype = a.mime_type.partition("/")
        message.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
    return message


@dataclass(frozen=True)
class Mailer:
    """Sends through the relay of ``settings``; one connection per message."""

    settings: SmtpSettings

    async def send(self, mail: OutgoingMail) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                compose(mail),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                start_tls=s.smtp_starttls,
                use_tls=s.smtp_tls,
                timeout=s.smtp_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(
                    f"the relay refused every recipient: {', '.join(map(str, codes))}"
                ) from exc
            raise
