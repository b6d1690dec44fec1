"""A contract activated through contracts-svc reaches its integrators, verifiably signed;
R5: the endpoint's secret appears in no log, no table, no event and no payload."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import nats
import pytest
from nats.js.api import DeliverPolicy
from prisme_contracts.app import build_app as build_contracts
from prisme_contracts.settings import ContractsSettings
from prisme_testing.polling import eventually
from prisme_testing.runner import start_service
from prisme_webhooks.app import build_app
from standardwebhooks import Webhook

from .conftest import Receiver, subscribe


async def activate_contract(contracts: Any) -> dict[str, Any]:
    client = (
        await contracts.post(
            "/v1/clients",
            json={
                "name": "Cabinet médical des Lataniers",
                "siren": "732829320",
                "manager": {
                    "name": "Dr Payet",
                    "email": "dr.payet@cabinet.re",
                    "phone": "0262 12 34 56",
                },
                "address": {
                    "line1": "1 rue de Paris",
                    "postal_code": "97490",
                    "city": "Sainte-Clotilde",
                },
            },
        )
    ).json()
    cid = client["id"]
    r = await contracts.put(
        f"/v1/clients/{cid}/network",
        json={"lan_count": 1, "download_mbps": 1000, "upload_mbps": 600},
    )
    assert r.status_code == 200, r.text
    r = await contracts.post(
        f"/v1/clients/{cid}/assets",
        json={"name": "PC1", "function": "accueil", "kind": "workstation", "form": "physical",
              "os": "Windows 11 Pro", "supplied_by": "provider"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await contracts.post(
        f"/v1/clients/{cid}/users",
        json={
            "first_name": "Marie",
            "last_name": "Hoarau",
            "email": "marie@cabinet.re",
            "role": "secretary",
        },
    )
    assert r.status_code == 201, r.text
    start = datetime.now(UTC).date().isoformat()
    r = await contracts.post(
        "/v1/contracts", json={"client_id": cid, "offer": "prisme", "start_date": start}
    )
    assert r.status_code == 201, r.text
    r = await contracts.post(f"/v1/contracts/{r.json()['id']}/activate")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def stream_bytes(nats_url: str) -> bytes:
    """Every message body and header on every stream of the bus."""
    nc = await nats.connect(nats_url)
    found = b""
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            sub = await js.subscribe(
                ">",
                stream=info.config.name,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.ALL,
            )
            for _ in range(info.state.messages):
                msg = await sub.next_msg(timeout=5)
                found += msg.data + json.dumps(msg.headers or {}).encode()
            await sub.unsubscribe()
    finally:
        await nc.close()
    return found


async def database_text(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        text = ""
        for table in tables:
            for row in await conn.fetch(f'SELECT row_to_json(t)::text AS j FROM "{table}" t'):  # noqa: S608
                text += row["j"]
        return text
    finally:
        await conn.close()


async def test_activation_reaches_the_subscribed_endpoint_and_no_secret_leaks(
    webhooks_settings: Callable[..., Awaitable[Any]],
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
    receiver: Receiver,
    nats_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    invoices_only = Receiver()
    await invoices_only.start()
    settings = await webhooks_settings()

    contracts_settings = ContractsSettings(**base_settings, database_url=await new_database())
    try:
        async with (
            start_service(build_app(settings), headers=auth_headers) as hooks,
            start_service(build_contracts(contracts_settings), headers=auth_headers) as contracts,
        ):
            endpoint = await subscribe(hooks, receiver.url, "contract.*")
            other = await subscribe(hooks, invoices_only.url, "invoice.*")
            rotated = (await hooks.post(f"/v1/endpoints/{other['id']}/rotate-secret")).json()[
                "secret"
            ]
            secrets = [endpoint["secret"], other["secret"], rotated]
            assert (await hooks.get(f"/v1/endpoints/{endpoint['id']}")).json().get("secret") is None

            contract = await activate_contract(contracts)
            got = await eventually(
                lambda: [r for r in receiver.got if b"contract.activated" in r.body],
                60,
                "contract.activated delivered",
            )
            delivered = got[0]
            verified = Webhook(endpoint["secret"]).verify(delivered.body, delivered.headers)
            assert verified["type"] == "contract.activated"
            data = verified["data"]
            assert data["contract_id"] == contract["id"]
            assert data["aggregate"]["id"] == contract["id"]
            assert data["aggregate"]["version"] == contract.get("version", 1)
            assert "users" not in data
            assert "client" not in data
            assert "dr.payet@cabinet.re" not in delivered.body.decode()
            with pytest.raises(Exception, match="signature"):
                Webhook(other["secret"]).verify(delivered.body, delivered.headers)
            await asyncio.sleep(1.0)
            assert invoices_only.got == []  # subscribed to invoice.* only

            # R5: nowhere in clear
            table_text = await database_text(settings.database_url)
            bus_text = await stream_bytes(nats_url)
            logs = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
            bodies = b"".join(r.body + json.dumps(r.headers).encode() for r in receiver.got)
            for secret in secrets:
                raw = secret.removeprefix("whsec_")
                assert raw not in table_text
                assert raw.encode() not in bus_text
                assert raw not in logs
                assert raw.encode() not in bodies
    finally:
        await invoices_only.stop()
