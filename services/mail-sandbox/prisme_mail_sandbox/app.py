"""The inbox over HTTP: a JSON API and a small page to list and read what was received."""

from __future__ import annotations

import contextlib
import html
from collections.abc import AsyncIterator

from fastapi import FastAPI, HTTPException, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from .smtp import start_smtp
from .store import Mailbox, Stored


class MessageSummary(BaseModel):
    id: str
    seq: int
    received_at: str
    mail_from: str
    to: list[str]
    subject: str


class MessageOut(MessageSummary):
    headers: dict[str, str]
    text: str


def _summary(m: Stored) -> MessageSummary:
    return MessageSummary(
        id=m.id,
        seq=m.seq,
        received_at=m.received_at.isoformat(),
        mail_from=m.mail_from,
        to=list(m.rcpt_to),
        subject=m.subject,
    )


_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>{title}</title><style>body{{font-family:sans-serif;margin:2rem}}
td,th{{padding:.3rem .8rem;text-align:left}}pre{{white-space:pre-wrap}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


def create_app(
    mailbox: Mailbox | None = None, *, smtp_host: str = "127.0.0.1", smtp_port: int | None = None
) -> FastAPI:
    """The sandbox; with ``smtp_port`` its SMTP server runs in the app's lifespan."""
    box = mailbox or Mailbox()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if smtp_port is None:
            yield
            return
        server = await start_smtp(box, smtp_host, smtp_port)
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()

    app = FastAPI(title="mail-sandbox", lifespan=lifespan)
    app.state.mailbox = box

    @app.get("/healthz")
    @app.get("/readyz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/messages")
    async def list_messages(
        to: str | None = None, subject: str | None = None
    ) -> list[MessageSummary]:
        """Messages received, oldest first; ``to`` (exact recipient), ``subject`` (contains)."""
        return [_summary(m) for m in box.search(to, subject)]

    def _get(message_id: str) -> Stored:
        found = box.get(message_id)
        if found is None:
            raise HTTPException(404, "no such message")
        return found

    @app.get("/api/messages/{message_id}")
    async def read_message(message_id: str) -> MessageOut:
        m = _get(message_id)
        return MessageOut(**_summary(m).model_dump(), headers=m.headers(), text=m.text)

    @app.get("/api/messages/{message_id}/raw")
    async def raw_message(message_id: str) -> Response:
        return Response(_get(message_id).raw, media_type="message/rfc822")

    @app.delete("/api/messages", status_code=204)
    async def clear() -> None:
        box.clear()

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        rows = "".join(
            f"<tr><td>{m.seq}</td><td>{html.escape(m.received_at.isoformat())}</td>"
            f"<td>{html.escape(', '.join(m.rcpt_to))}</td>"
            f'<td><a href="/messages/{m.id}">{html.escape(m.subject) or "(sans objet)"}</a></td></tr>'
            for m in reversed(box.messages)
        )
        body = (
            f"<table><tr><th>n°</th><th>reçu le</th><th>à</th><th>objet</th></tr>{rows}</table>"
            if rows
            else "<p>Aucun message reçu.</p>"
        )
        return _PAGE.format(title="Boîte de réception du bac à sable SMTP", body=body)

    @app.get("/messages/{message_id}", response_class=HTMLResponse)
    async def message_page(message_id: str) -> str:
        m = _get(message_id)
        meta = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in m.headers().items()
        )
        body = (
            f'<p><a href="/">← tous les messages</a></p><table>{meta}</table>'
            f"<pre>{html.escape(m.text)}</pre>"
        )
        return _PAGE.format(title=html.escape(m.subject) or "(sans objet)", body=body)

    return app
