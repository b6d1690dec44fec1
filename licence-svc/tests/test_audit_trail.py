"""O3: every mutating route of licence-svc writes its audit row: setting a tenant, and each
reveal of an initial password (who saw it and when, never the password: R5)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from prisme_licence.app import build_app
from prisme_testing.audit import Call, Example, assert_mutations_audited
from prisme_testing.plugin import publish_event, start_service


async def test_every_mutating_route_writes_an_audit_row(
    new_database: Any,
    settings_for: Any,
    graph: Any,
    factories: Any,
    auth_headers: Any,
    nats_url: str,
    eventually: Any,
) -> None:
    dsn = await new_database()
    async with start_service(build_app(settings_for(dsn)), headers=auth_headers) as api:

        async def credentials(_: httpx.AsyncClient) -> Call:
            a = factories.activated(factories.users(1))
            await publish_event(nats_url, a)

            async def active() -> list[dict[str, Any]]:
                accs = (
                    await api.get("/v1/accounts", params={"contract_id": str(a.contract_id)})
                ).json()["items"]
                return [x for x in accs if x["status"] == "active"]

            await eventually(active, what="an active account")
            (acc,) = await active()
            return Call(f"/v1/accounts/{acc['id']}/credentials")

        client_id = uuid.uuid4()
        examples: dict[str, Example] = {
            "PUT /v1/tenants/{client_id}": Call(
                f"/v1/tenants/{client_id}",
                json={"graph_tenant": "Cabinet-Tenant", "domain": "cabinet.re"},
            ),
            "POST /v1/accounts/{account_id}/credentials": credentials,
        }
        report = await assert_mutations_audited(api, examples, {}, sub="op-alice")
        assert sorted(report.audited) == sorted(examples)
        (revealed,) = (
            await api.get("/v1/audit", params={"action": "credentials.revealed"})
        ).json()["items"]
        assert revealed["target_type"] == "account"
        assert revealed["detail"]["upn"].endswith("@prisme.re")
        (tenant,) = (await api.get("/v1/audit", params={"client_id": str(client_id)})).json()[
            "items"
        ]
        assert tenant["after"]["domain"] == "cabinet.re"


async def test_what_contract_events_and_graph_work_change_is_audited(
    new_database: Any,
    settings_for: Any,
    graph: Any,
    factories: Any,
    auth_headers: Any,
    nats_url: str,
    eventually: Any,
) -> None:
    """O3 beyond the routes: accounts created on contract.activated (by the event), provisioned
    and revoked by the Graph worker, revocations queued set-based on contract.ended: one row
    per account, by the event that ended the contract, its id as request id."""
    dsn = await new_database()
    async with start_service(build_app(settings_for(dsn)), headers=auth_headers) as api:
        a = factories.activated(factories.users(3))
        await publish_event(nats_url, a)

        async def rows(action: str, n: int) -> list[dict[str, Any]] | None:
            items = (await api.get("/v1/audit", params={"action": action})).json()["items"]
            return items if len(items) >= n else None

        async def accounts(status: str) -> list[dict[str, Any]] | None:
            accs = (
                await api.get("/v1/accounts", params={"contract_id": str(a.contract_id)})
            ).json()["items"]
            return accs if len(accs) == 3 and {x["status"] for x in accs} == {status} else None

        accs = await eventually(lambda: accounts("active"), what="three active accounts")
        ids = sorted(x["id"] for x in accs)
        created = await eventually(lambda: rows("account.created", 3), what="created rows")
        assert sorted(r["target_id"] for r in created) == ids
        assert {(r["actor"], r["request_id"]) for r in created} == {
            ("event:contract.activated", str(a.event_id))
        }
        provisioned = await eventually(lambda: rows("licence.provisioned", 3), what="provisioned")
        assert sorted(r["target_id"] for r in provisioned) == ids
        assert {r["actor"] for r in provisioned} == {"system:graph-worker"}
        assert {r["client_id"] for r in provisioned} == {str(a.client_id)}

        end = factories.ended(a)
        await publish_event(nats_url, end)
        await eventually(lambda: accounts("revoked"), what="three revoked accounts")
        queued = await eventually(lambda: rows("account.revocation_queued", 3), what="queued")
        assert sorted(r["target_id"] for r in queued) == ids
        assert {(r["actor"], r["request_id"]) for r in queued} == {
            ("event:contract.ended", str(end.event_id))
        }
        revoked = await eventually(lambda: rows("licence.revoked", 3), what="revoked rows")
        assert sorted(r["target_id"] for r in revoked) == ids
        assert (
            len((await api.get("/v1/audit", params={"action": "licence.*"})).json()["items"]) == 6
        )
