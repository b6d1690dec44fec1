"""The ``job.dead`` alert: a service's durable job goes dead, the chassis publishes its
``job.dead.<area>`` through the outbox, the webhooks service e-mails the technicians.

The end-to-end test runs billing-svc for real next to the webhooks service (same NATS): a
billing e-mail job dies against a relay that is down, and the technicians' alert arrives in
the mail sandbox. Importing billing's app here is a test of the two together, not a
dependency of the webhooks service on billing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from prisme_billing.app import build_app as build_billing
from prisme_billing.settings import BillingSettings
from prisme_chassis.calendar import REUNION
from prisme_chassis.clock import CLOCK
from prisme_events import BillingJobDead, WebhookEndpointDisabled, WebhooksJobDead
from prisme_localinfra import free_port
from prisme_testing import factories
from prisme_testing.events import publish_event
from prisme_testing.polling import eventually
from prisme_testing.runner import start_service

from .conftest import subscribe

TUESDAY_MORNING = datetime(2026, 12, 8, 10, 0, tzinfo=REUNION)  # support hours (S1)


async def _alert_mails(mail: Any) -> list[dict[str, Any]]:
    return [m for m in await mail.messages() if "Tâche abandonnée" in m["subject"]]


async def test_a_dead_job_event_is_e_mailed_to_the_technicians_once_and_not_to_integrators(
    webhooks: Any, mail: Any, receiver: Any, nats_url: str
) -> None:
    CLOCK.travel_to(TUESDAY_MORNING)
    death = BillingJobDead(
        version=1,
        service="billing-svc",
        job_id=42,
        kind="billing.mail_document",
        key=f"mail:{uuid.uuid4()}",
        attempts=30,
        error="SMTPConnectError: Error connecting to 127.0.0.1 on port 2525",
    )
    async with webhooks() as client:
        endpoint = await subscribe(client, receiver.url, "*")
        await publish_event(nats_url, death)
        await publish_event(nats_url, death)  # a redelivery raises nothing new
        (sent,) = await eventually(lambda: _alert_mails(mail), 30, "the job.dead alert")
        assert sent["subject"].startswith("[PRISME] URGENT — Tâche abandonnée")
        assert sent["to"] == ["tech1@prisme.test", "tech2@prisme.test"]
        body = (await mail.http.get(f"/api/messages/{sent['id']}")).json()["text"]
        for fact in ("billing-svc", "billing.mail_document", death.key, "42", "SMTPConnectError"):
            assert fact in body
        assert "POST /v1/jobs/{id}/retry" in body
        (alert,) = list((await client.get("/v1/alerts")).json()["items"])
        assert alert["rule"] == "job.dead"

        # the webhooks service's own alert e-mail dying raises no alert about itself (it
        # would be e-mailed the same failing way); it stays on /v1/jobs?state=dead
        own = WebhooksJobDead(
            version=1,
            service="webhooks",
            job_id=7,
            kind="webhooks.alert_mail",
            key="alert:x",
            attempts=20,
            error="relay down",
        )
        await publish_event(nats_url, own)
        # then an event that alerts, on the same stream (one consumer, in order): once its
        # alert is there, the quiet one was handled before it
        marker = WebhookEndpointDisabled(version=1, endpoint_id=uuid.uuid4(), reason="gone")
        await publish_event(nats_url, marker)

        async def marker_alert() -> list[Any] | None:
            items = (await client.get("/v1/alerts")).json()["items"]
            found = [a for a in items if a["rule"] == "webhook.endpoint_disabled"]
            return items if found else None

        alerts = await eventually(marker_alert, 30, "the marker's alert")
        assert sorted(a["rule"] for a in alerts) == ["job.dead", "webhook.endpoint_disabled"]

        # job.dead is operational: an integrator subscribed to everything gets none of it
        # (messages are written in the transaction that handled each event)
        r = await client.get(f"/v1/endpoints/{endpoint['id']}/messages")
        assert [m["event_type"] for m in r.json()["items"]] == ["webhook.endpoint_disabled"]


async def test_a_billing_mail_job_that_dies_reaches_the_technicians_end_to_end(
    webhooks: Any,
    mail: Any,
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
) -> None:
    CLOCK.travel_to(TUESDAY_MORNING)
    billing_settings = BillingSettings(
        **base_settings,
        database_url=await new_database(),
        stripe_enabled=False,
        smtp_port=free_port(),  # billing's relay is down
        mail_job_max_attempts=1,
    )
    async with (
        webhooks() as client,
        start_service(build_billing(billing_settings), headers=auth_headers) as billing,
    ):
        act = factories.contract_activated(
            client=factories.client_snapshot(None),
            version=2,
            offer="prisme",
            includes=["microsoft_365"],
            start=date(2026, 3, 15),
            postes=6,
        )
        await publish_event(billing_settings.nats_url, act)

        async def dead_mail_job() -> list[Any]:
            r = await billing.get(
                "/v1/jobs", params={"state": "dead", "kind": "billing.mail_document"}
            )
            return list(r.json()["items"])

        (job,) = await eventually(dead_mail_job, 30, "billing's mail job dead")
        (sent,) = await eventually(lambda: _alert_mails(mail), 30, "the technicians' alert")
        body = (await mail.http.get(f"/api/messages/{sent['id']}")).json()["text"]
        assert "billing-svc" in body
        assert "billing.mail_document" in body
        assert job["key"] in body
        (alert,) = (await client.get("/v1/alerts")).json()["items"]
        assert alert["rule"] == "job.dead"
