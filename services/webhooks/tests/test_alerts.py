"""Alerts reach people by e-mail when S1 says someone reads them, once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime

from prisme_chassis.calendar import REUNION
from prisme_chassis.clock import CLOCK
from prisme_events import BackupCheckFailed, BackupMissed, InvoicePaymentFailed
from prisme_testing.events import publish_event
from prisme_testing.polling import eventually


def missed() -> BackupMissed:
    return BackupMissed(
        version=1,
        plan_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        day=date(2026, 12, 4),
        reason="agent muet",
    )


async def test_friday_night_backup_missed_is_mailed_saturday_at_seven_once(
    webhooks, mail, nats_url: str
) -> None:
    CLOCK.travel_to(datetime(2026, 12, 4, 21, 0, tzinfo=REUNION))  # a Friday
    event = missed()
    async with webhooks() as client:
        await publish_event(nats_url, event)

        async def raised() -> list[dict[str, object]]:
            return list((await client.get("/v1/alerts")).json()["items"])

        alerts = await eventually(raised, 30, "the alert recorded")
        assert alerts[0]["rule"] == "backup.missed"
        assert alerts[0]["deliver_at"].startswith("2026-12-05T03:00:00")  # 07:00 in La Réunion
        await asyncio.sleep(1.5)  # held: several re-checks of the clock pass
        assert await mail.messages() == []

        CLOCK.travel_to(datetime(2026, 12, 5, 7, 0, 5, tzinfo=REUNION))
        alert_mails = await eventually(
            lambda: _find(mail, "Sauvegarde manquée"), 30, "the alert e-mailed at the opening"
        )
        assert len(alert_mails) == 1
        assert alert_mails[0]["to"] == ["tech1@prisme.test", "tech2@prisme.test"]
        body = (await mail.http.get(f"/api/messages/{alert_mails[0]['id']}")).json()["text"]
        assert str(event.plan_id) in body
        assert "agent muet" in body
        # the same event again (a redelivery) raises nothing new
        await publish_event(nats_url, event)
    # a restart of the service sends nothing twice
    async with webhooks():
        await asyncio.sleep(1.5)
    sent = [m for m in await mail.messages() if "Sauvegarde manquée" in m["subject"]]
    assert len(sent) == 1


async def test_urgent_alerts_go_out_on_call_and_others_wait(webhooks, mail, nats_url: str) -> None:
    CLOCK.travel_to(datetime(2026, 12, 6, 10, 0, tzinfo=REUNION))  # Sunday, on call
    async with webhooks() as client:
        await publish_event(
            nats_url,
            BackupCheckFailed(
                version=1,
                plan_id=uuid.uuid4(),
                client_id=uuid.uuid4(),
                detail="restauration impossible",
            ),
        )
        await publish_event(
            nats_url,
            InvoicePaymentFailed(
                version=1,
                client_id=uuid.uuid4(),
                invoice_id=uuid.uuid4(),
                number="F2026-0007",
                reason="carte refusée",
            ),
        )
        sent = await eventually(mail.messages, 30, "the urgent alert")
        await asyncio.sleep(1.0)
        sent = await mail.messages()
        assert len(sent) == 1  # on call: the urgent one only, no digest (not an opening)
        assert "URGENT" in sent[0]["subject"]
        assert sent[0]["to"] == ["tech1@prisme.test", "tech2@prisme.test"]
        alerts = (await client.get("/v1/alerts")).json()["items"]
        payment = next(a for a in alerts if a["rule"] == "invoice.payment_failed")
        assert payment["audience"] == "accountants"
        assert payment["sent_at"] is None
        r = await client.get("/v1/support-hours")
        assert r.json()["status"] == "on_call"
        assert r.json()["next_opening"].startswith("2026-12-07T07:00:00+04:00")

        CLOCK.travel_to(datetime(2026, 12, 7, 7, 0, 5, tzinfo=REUNION))  # Monday opening
        await eventually(lambda: _count(mail, "Paiement"), 30, "the payment alert at opening")
        digest = await eventually(lambda: _find(mail, "Récapitulatif"), 30, "the daily digest")
        assert digest


async def _count(mail, text: str) -> int:
    return len([m for m in await mail.messages() if text in m["subject"]])


async def _find(mail, text: str) -> list[dict[str, object]]:
    return [m for m in await mail.messages() if text in m["subject"]]
