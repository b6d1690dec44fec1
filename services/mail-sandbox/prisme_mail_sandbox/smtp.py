"""The SMTP side: an aiosmtpd server in the sandbox's own event loop."""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.smtp import SMTP, Envelope, Session

from .store import Mailbox

log = logging.getLogger(__name__)


class KeepHandler:
    """aiosmtpd handler that keeps every message it is given."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        stored = self.mailbox.add(
            str(envelope.mail_from or ""), [str(r) for r in envelope.rcpt_tos], raw
        )
        log.info("mail %s received for %s", stored.seq, ", ".join(stored.rcpt_to))
        return "250 Message accepted for delivery"


async def start_smtp(mailbox: Mailbox, host: str, port: int) -> asyncio.Server:
    """Listen for SMTP on ``host:port`` in the running loop (closed by the caller)."""
    loop = asyncio.get_running_loop()
    handler = KeepHandler(mailbox)
    return await loop.create_server(
        lambda: SMTP(handler, hostname="mail-sandbox", data_size_limit=10 * 1024 * 1024),
        host=host,
        port=port,
    )
