"""The mail sandbox keeps what a real SMTP client sends and shows it over HTTP."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib
from prisme_localinfra import free_port
from prisme_mail_sandbox.app import create_app
from prisme_testing.runner import start_service


async def test_a_message_sent_over_smtp_can_be_listed_and_read() -> None:
    smtp_port = free_port()
    async with start_service(create_app(smtp_port=smtp_port)) as http:
        message = EmailMessage()
        message["From"] = "alertes@prisme.re"
        message["To"] = "technique@prisme.re"
        message["Subject"] = "[PRISME] Sauvegarde manquée — Cabinet Hoarau"
        message.set_content("La sauvegarde du 4 décembre n'a pas eu lieu.")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=smtp_port)

        listed = (await http.get("/api/messages", params={"to": "technique@prisme.re"})).json()
        assert [m["subject"] for m in listed] == ["[PRISME] Sauvegarde manquée — Cabinet Hoarau"]
        assert (await http.get("/api/messages", params={"to": "compta@prisme.re"})).json() == []

        one = (await http.get(f"/api/messages/{listed[0]['id']}")).json()
        assert one["mail_from"] == "alertes@prisme.re"
        assert "4 décembre" in one["text"]
        raw = await http.get(f"/api/messages/{listed[0]['id']}/raw")
        assert raw.headers["content-type"].startswith("message/rfc822")

        page = await http.get("/")
        assert "Sauvegarde manquée" in page.text
        assert "Sauvegarde du 4 décembre" not in page.text  # the list shows subjects only
        detail = await http.get(f"/messages/{listed[0]['id']}")
        assert "4 décembre" in detail.text
        assert (await http.get("/messages/nope")).status_code == 404

        assert (await http.delete("/api/messages")).status_code == 204
        assert (await http.get("/api/messages")).json() == []
