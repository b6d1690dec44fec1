"""O3: every mutating route of the webhooks service writes its audit row (endpoints created,
changed, deleted, secrets rotated, tests, recoveries, resends, alerts acknowledged), and no
endpoint secret is in it (R5)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
from prisme_events import BackupMissed
from prisme_testing.audit import Call, Example, assert_mutations_audited
from prisme_testing.events import publish_event
from prisme_testing.polling import eventually

from .conftest import subscribe


async def test_every_mutating_route_writes_an_audit_row(
    webhooks: Any, receiver: Any, nats_url: str
) -> None:
    async with webhooks() as client:

        async def endpoint() -> str:
            return str((await subscribe(client, receiver.url, "contract.*"))["id"])

        async def on_endpoint(then: str, **kw: Any) -> Call:
            return Call(f"/v1/endpoints/{await endpoint()}{then}", **kw)

        async def change(_: httpx.AsyncClient) -> Call:
            return await on_endpoint("", json={"description": "comptabilité"})

        async def delete(_: httpx.AsyncClient) -> Call:
            return await on_endpoint("")

        async def rotate(_: httpx.AsyncClient) -> Call:
            return await on_endpoint("/rotate-secret")

        async def test(_: httpx.AsyncClient) -> Call:
            return await on_endpoint("/test")

        async def recover(_: httpx.AsyncClient) -> Call:
            return await on_endpoint("/recover", json={"since": "2026-01-01T00:00:00+04:00"})

        async def resend(_: httpx.AsyncClient) -> Call:
            sent = await client.post(f"/v1/endpoints/{await endpoint()}/test")
            assert sent.status_code == 202, sent.text
            return Call(f"/v1/messages/{sent.json()['message_id']}/resend")

        async def acknowledge(_: httpx.AsyncClient) -> Call:
            event = BackupMissed(
                version=1,
                plan_id=uuid.uuid4(),
                client_id=uuid.uuid4(),
                day=date(2026, 12, 4),
                reason="agent muet",
            )
            await publish_event(nats_url, event)

            async def raised() -> list[dict[str, Any]]:
                return list((await client.get("/v1/alerts")).json()["items"])

            (alert,) = await eventually(raised, 30, "the alert recorded")
            return Call(f"/v1/alerts/{alert['id']}/acknowledge")

        examples: dict[str, Example] = {
            "POST /v1/endpoints": Call(
                "/v1/endpoints",
                json={"url": receiver.url, "event_types": ["invoice.*"], "description": "x"},
            ),
            "PATCH /v1/endpoints/{endpoint_id}": change,
            "DELETE /v1/endpoints/{endpoint_id}": delete,
            "POST /v1/endpoints/{endpoint_id}/rotate-secret": rotate,
            "POST /v1/endpoints/{endpoint_id}/test": test,
            "POST /v1/endpoints/{endpoint_id}/recover": recover,
            "POST /v1/messages/{message_id}/resend": resend,
            "POST /v1/alerts/{alert_id}/acknowledge": acknowledge,
        }
        report = await assert_mutations_audited(client, examples, {}, sub="op-alice")
        assert sorted(report.audited) == sorted(examples)

        created = await subscribe(client, receiver.url, "invoice.paid")
        rotated = (await client.post(f"/v1/endpoints/{created['id']}/rotate-secret")).json()
        trail = str((await client.get("/v1/audit", params={"limit": 200})).json())
        assert created["secret"] not in trail
        assert rotated["secret"] not in trail
        changed = (await client.get("/v1/audit", params={"action": "endpoint.changed"})).json()
        assert changed["items"][0]["after"] == {"description": "comptabilité"}
        assert changed["items"][0]["before"] == {"description": "test"}
