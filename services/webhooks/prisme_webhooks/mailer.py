"""E-mail over SMTP (aiosmtplib): the mail sandbox locally, the provider's relay in production."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib

from .settings import WebhooksSettings


@dataclass(frozen=True)
class Mailer:
    settings: WebhooksSettings

    async def send(
        self,
        *,
        to: Sequence[str],
        subject: str,
        body: str,
        message_id: str,
        sent_at: datetime,
    ) -> None:
        """Send one message. ``message_id`` is stable per alert (``<alert-…@prisme>``) so a
        resend after a crash between the send and its record is recognisable as the same."""
        s = self.settings
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message["Date"] = format_datetime(sent_at)
        message["Message-ID"] = message_id or make_msgid()
        message.set_content(body)
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            start_tls=s.smtp_starttls,
            use_tls=s.smtp_tls,
            timeout=30,
        )
