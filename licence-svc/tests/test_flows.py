"""licence-svc through the real bus, a real database and the Graph sandbox over HTTP (L1-L4)."""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from typing import Any

import asyncpg
import httpx
from prisme_licence.app import build_app
from prisme_testing.plugin import collect_events, publish_event, start_service

TENANT = "provider-tenant"


async def _processed(dsn: str, event_id: uuid.UUID) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        return bool(
            await conn.fetchval("SELECT EXISTS (SELECT 1 FROM inbox WHERE event_id = $1)", event_id)
        )
    finally:
        await conn.close()


async def _accounts(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await api.get("/v1/accounts", params={k: str(v) for k, v in params.items()})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def _every_row(api: httpx.AsyncClient, path: str, key: str, **params: Any) -> list[str]:
    """Every row of ``path`` a page of ``limit`` at a time, following ``next_cursor``."""
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        asked = {**params, **({"cursor": cursor} if cursor else {})}
        r = await api.get(path, params=asked)
        assert r.status_code == 200, r.text
        assert len(r.json()["items"]) <= int(params["limit"])
        seen += [row[key] for row in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError(f"{path}: no last page")


def _ops(state: dict[str, Any], upn: str) -> list[str]:
    return [e["op"] for e in state["oplog"] if e["upn"] == upn]


async def test_prisme_activation_provisions_every_user_and_sav_none(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually, make_token
) -> None:
    dsn = await new_database()
    async with start_service(build_app(settings_for(dsn)), headers=auth_headers) as api:
        a = factories.activated(factories.users(5))
        sav = factories.activated(factories.users(3), offer="sav_sauvegarde")
        await publish_event(nats_url, sav)
        await publish_event(nats_url, a)

        async def all_active() -> bool:
            accs = await _accounts(api, contract_id=a.contract_id)
            return len(accs) == 5 and all(x["status"] == "active" for x in accs)

        await eventually(all_active, what="5 active accounts")
        assert await _processed(dsn, sav.event_id)
        assert await _accounts(api, contract_id=sav.contract_id) == []

        state = await graph.state(TENANT)
        users = {u["userPrincipalName"]: u for u in state["users"]}
        assert sorted(users) == sorted(
            [
                "jerome.lebon@prisme.re",
                "marie-eve.hoarau@prisme.re",
                "anais.techer@prisme.re",
                "paul.grondin@prisme.re",
                "zoe.fontaine@prisme.re",
            ]
        )
        for u in users.values():
            assert u["accountEnabled"] is True
            assert u["usageLocation"] == "FR"
            assert len(u["assignedLicenses"]) == 1
            assert u["forceChangePasswordNextSignIn"] is True
        o365 = next(s for s in state["skus"]["value"] if s["skuPartNumber"] == "O365_BUSINESS")
        assert o365["consumedUnits"] == 5

        events = await collect_events(nats_url, "licence.>", 5, timeout=10)
        assert sorted(e.subject for e in events) == ["licence.provisioned"] * 5
        counters = (await graph.http.get("/_sandbox/state")).json()["counters"]
        assert counters["tokens"] == 1  # one client-credentials token, cached for the tenant
        assert {e.user_id for e in events} == {u.user_id for u in a.users}  # type: ignore[attr-defined]

        # L1: the initial password is shown once, and it is the one Graph received.
        acc = (await _accounts(api, contract_id=a.contract_id))[0]
        # revealing a password is its own scope, apart from managing accounts (O1)
        manager = {"Authorization": f"Bearer {make_token(scopes=('licences:write',))}"}
        refused = await api.post(f"/v1/accounts/{acc['id']}/credentials", headers=manager)
        assert refused.status_code == 403
        r = await api.post(f"/v1/accounts/{acc['id']}/credentials")
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        body = r.json()
        assert body["upn"] == acc["upn"]
        assert (
            hashlib.sha256(body["password"].encode()).hexdigest()
            == users[acc["upn"]]["passwordSha256"]
        )
        again = await api.post(f"/v1/accounts/{acc['id']}/credentials")
        assert again.status_code == 410
        assert again.headers["content-type"].startswith("application/problem+json")
        assert (await api.post(f"/v1/accounts/{uuid.uuid4()}/credentials")).status_code == 404
        assert (
            await api.get("/v1/accounts", headers={"Authorization": "Bearer nope"})
        ).status_code == 401


async def test_amendment_ending_and_revocation_order(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually
) -> None:
    dsn = await new_database()
    async with start_service(build_app(settings_for(dsn)), headers=auth_headers) as api:
        users = factories.users(5)
        a = factories.activated(users)
        await publish_event(nats_url, a)

        async def statuses() -> dict[str, str]:
            return {x["user_id"]: x["status"] for x in await _accounts(api, client_id=a.client_id)}

        async def settled(expected: dict[str, str]) -> bool:
            return await statuses() == expected

        base = {str(u.user_id): "active" for u in users}
        await eventually(lambda: settled(base), what="activation")

        newcomer = factories.users(1, [("Noël", "Rivière")])[0]
        leaver = users[4]
        await publish_event(nats_url, factories.amended(a, [newcomer], [leaver.user_id]))
        after = {**base, str(newcomer.user_id): "active", str(leaver.user_id): "revoked"}
        await eventually(lambda: settled(after), what="amendment")
        state = await graph.state(TENANT)
        assert "noel.riviere@prisme.re" in {u["userPrincipalName"] for u in state["users"]}
        assert [u["userPrincipalName"] for u in state["deleted"]] == ["zoe.fontaine@prisme.re"]

        await publish_event(nats_url, factories.ended(a))
        gone = dict.fromkeys(after, "revoked")
        await eventually(lambda: settled(gone), what="end of contract")
        state = await graph.state(TENANT)
        assert state["users"] == []
        assert len(state["deleted"]) == 6
        for u in state["deleted"]:
            assert u["accountEnabled"] is False
            assert u["assignedLicenses"] == []
            assert u["sessionsRevoked"] >= 1
            ops = _ops(state, u["userPrincipalName"])
            # L3 order: disable, revoke sessions, remove licence, soft-delete.
            assert ops[-4:] == ["disable", "revoke_sessions", "remove_license", "delete"], ops
        events = await collect_events(nats_url, "licence.>", 12, timeout=10)
        assert Counter(e.subject for e in events) == {
            "licence.provisioned": 6,
            "licence.revoked": 6,
        }


async def test_renewal_carries_accounts_over_untouched(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually
) -> None:
    dsn = await new_database()
    async with start_service(build_app(settings_for(dsn)), headers=auth_headers) as api:
        users = factories.users(5)
        y1 = factories.activated(users, year=2026)
        await publish_event(nats_url, y1)

        async def active(n: int) -> bool:
            accs = await _accounts(api, client_id=y1.client_id)
            return len(accs) == n and all(x["status"] == "active" for x in accs)

        await eventually(lambda: active(5), what="year 1")
        before = await graph.state(TENANT)
        ids_before = {x["user_id"]: x["id"] for x in await _accounts(api, client_id=y1.client_id)}

        # Next year's contract signed (not yet active here) when this year's ends: L3 carry-over.
        leaver = users[0]
        y2 = factories.activated(
            users[1:], client_id=y1.client_id, year=2027, renewal_of=y1.contract_id
        )
        end = factories.ended(y1, renewal=y2)
        await publish_event(nats_url, end)
        await eventually(lambda: _processed(dsn, end.event_id), what="end processed")
        assert {x["contract_id"] for x in await _accounts(api, client_id=y1.client_id)} == {
            str(y2.contract_id)
        }
        await publish_event(nats_url, y2)

        async def leaver_gone() -> bool:
            accs = {x["user_id"]: x for x in await _accounts(api, client_id=y1.client_id)}
            return accs[str(leaver.user_id)]["status"] == "revoked"

        await eventually(leaver_gone, what="the user who left is revoked")
        accs = await _accounts(api, client_id=y1.client_id)
        assert {x["user_id"]: x["id"] for x in accs} == ids_before  # same accounts, stable user ids
        stayed = [x for x in accs if x["user_id"] != str(leaver.user_id)]
        assert all(
            x["status"] == "active" and x["contract_id"] == str(y2.contract_id) for x in stayed
        )
        after = await graph.state(TENANT)
        touched = {e["upn"] for e in after["oplog"][len(before["oplog"]) :]}
        assert touched == {"jerome.lebon@prisme.re"}  # nobody else had an interruption


async def test_no_free_seat_keeps_account_pending_with_alert_until_seats_appear(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually
) -> None:
    dsn = await new_database()
    await graph.seats(TENANT, 3)
    async with start_service(build_app(settings_for(dsn)), headers=auth_headers) as api:
        a = factories.activated(factories.users(5))
        await publish_event(nats_url, a)

        async def split() -> bool:
            accs = await _accounts(api, contract_id=a.contract_id)
            return Counter(x["status"] for x in accs) == {"active": 3, "pending": 2}

        await eventually(split, what="3 active, 2 pending")
        alerts = (await api.get("/v1/alerts")).json()["items"]
        assert len(alerts) == 2
        # both lists page by cursor: every row once, in the list's order
        every = await _accounts(api, contract_id=a.contract_id)
        assert [x["upn"] for x in every] == sorted(x["upn"] for x in every)
        paged = await _every_row(api, "/v1/accounts", "id", contract_id=a.contract_id, limit=2)
        assert paged == [x["id"] for x in every]
        paged = await _every_row(api, "/v1/alerts", "account_id", limit=1)
        assert paged == [x["account_id"] for x in alerts]
        for path in ("/v1/accounts", "/v1/alerts"):
            r = await api.get(path, params={"cursor": "pas-un-curseur"})
            assert r.status_code == 422, r.text
            assert r.json()["type"].endswith("invalid-cursor")
        # what the operator reads, in French, with the tenant to look at
        assert {x["alert"] for x in alerts} == {
            "Aucune licence O365_BUSINESS libre dans le tenant provider-tenant : "
            "le compte attend qu'une se libère"
        }
        assert {x["status"] for x in alerts} == {"pending"}
        pending_ids = {x["account_id"] for x in alerts}
        # the status filter and the counts are the server's, whatever the page size
        kept = await _every_row(api, "/v1/accounts", "id", status="pending", limit=1)
        assert set(kept) == pending_ids
        r = await api.get("/v1/accounts", params={"status": "perdu"})
        assert r.status_code == 422, r.text
        summary = (await api.get("/v1/accounts/summary", params={"client_id": a.client_id})).json()
        assert summary["by_sku"] == [
            {"sku": "O365_BUSINESS", "pending": 2, "active": 3, "revoked": 0, "failed": 0}
        ]
        assert (summary["total"]["active"], summary["total"]["pending"]) == (3, 2)
        other = (await api.get("/v1/accounts/summary", params={"client_id": uuid.uuid4()})).json()
        assert other["by_sku"] == []
        assert other["total"]["active"] == 0
        one = await api.get(f"/v1/accounts/{next(iter(pending_ids))}")
        assert one.status_code == 200
        assert one.json()["status"] == "pending"
        missing = await api.get(f"/v1/accounts/{uuid.uuid4()}")
        assert missing.status_code == 404
        assert missing.json()["type"].endswith("account-not-found")
        pending = next(
            x for x in await _accounts(api, contract_id=a.contract_id) if x["status"] == "pending"
        )
        assert (await api.post(f"/v1/accounts/{pending['id']}/credentials")).status_code == 409
        failed = await collect_events(nats_url, "licence.failed", 2, timeout=10)
        assert [e.reason for e in failed] == ["no_free_seat", "no_free_seat"]  # type: ignore[attr-defined]

        await graph.seats(TENANT, 10)

        async def all_active() -> bool:
            accs = await _accounts(api, contract_id=a.contract_id)
            return all(x["status"] == "active" for x in accs)

        await eventually(all_active, what="seats appeared")
        assert (await api.get("/v1/alerts")).json()["items"] == []
        created = Counter(
            e["upn"] for e in (await graph.state(TENANT))["oplog"] if e["op"] == "create"
        )
        assert set(created.values()) == {1}


async def test_tenant_mapping_collisions_and_foreign_users(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually
) -> None:
    dsn = await new_database()
    client_id = uuid.uuid4()
    # Somebody outside PRISME already holds jerome.lebon in the practice's tenant.
    token = (
        await graph.http.post(
            "/cabinet-tenant/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
        )
    ).json()["access_token"]
    r = await graph.http.post(
        "/v1.0/users",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "accountEnabled": True,
            "displayName": "Other",
            "mailNickname": "jerome.lebon",
            "userPrincipalName": "jerome.lebon@cabinet.re",
            "passwordProfile": {"password": "Other-pass-123"},
        },
    )
    assert r.status_code == 201
    async with start_service(build_app(settings_for(dsn)), headers=auth_headers) as api:
        bad = await api.put(
            f"/v1/tenants/{client_id}", json={"graph_tenant": "x y", "domain": "nodot"}
        )
        assert bad.status_code == 422
        r = await api.put(
            f"/v1/tenants/{client_id}",
            json={"graph_tenant": "Cabinet-Tenant", "domain": "Cabinet.re"},
        )
        assert r.status_code == 200, r.text
        same = [("Jérôme", "Lebon"), ("Jerome", "LEBON")]
        a = factories.activated(factories.users(2, same), client_id=client_id)
        await publish_event(nats_url, a)

        async def done() -> bool:
            accs = await _accounts(api, client_id=client_id)
            return len(accs) == 2 and all(x["status"] == "active" for x in accs)

        await eventually(done, what="both accounts active")
        upns = sorted(x["upn"] for x in await _accounts(api, client_id=client_id))
        assert upns == ["jerome.lebon2@cabinet.re", "jerome.lebon3@cabinet.re"]
        state = await graph.state("cabinet-tenant")
        other = next(
            u for u in state["users"] if u["userPrincipalName"] == "jerome.lebon@cabinet.re"
        )
        assert other["assignedLicenses"] == []  # the stranger was never adopted


async def test_credentials_expire_after_the_configured_delay(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually
) -> None:
    dsn = await new_database()
    async with start_service(
        build_app(settings_for(dsn, credential_ttl_seconds=0.5)), headers=auth_headers
    ) as api:
        a = factories.activated(factories.users(1))
        await publish_event(nats_url, a)

        async def expired() -> bool:
            accs = await _accounts(api, contract_id=a.contract_id)
            return bool(accs) and accs[0]["credential_state"] == "expired"

        await eventually(expired, what="credential purge")
        acc = (await _accounts(api, contract_id=a.contract_id))[0]
        assert (await api.post(f"/v1/accounts/{acc['id']}/credentials")).status_code == 410
        # O3: the purge's destruction has its row (the 410 destroyed nothing more)
        purged = (await api.get("/v1/audit", params={"action": "credentials.expired"})).json()
        assert [(r["target_id"], r["actor"]) for r in purged["items"]] == [
            (acc["id"], "system:credential-purge")
        ]
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM credentials") == 0
        finally:
            await conn.close()


async def test_an_expired_password_is_destroyed_durably_by_the_410(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually
) -> None:
    """L1: asking after the 7 days answers 410 AND the sealed password is gone for good (the
    destruction must not be rolled back with the refusal). No purge tick runs meanwhile."""
    dsn = await new_database()
    settings = settings_for(dsn, credential_purge_seconds=3600.0)
    async with start_service(build_app(settings), headers=auth_headers) as api:
        a = factories.activated(factories.users(1))
        await publish_event(nats_url, a)

        async def active() -> bool:
            accs = await _accounts(api, contract_id=a.contract_id)
            return bool(accs) and accs[0]["status"] == "active"

        await eventually(active, what="provisioned")
        acc = (await _accounts(api, contract_id=a.contract_id))[0]
        conn = await asyncpg.connect(dsn)
        try:
            # Seven days and a second later: the sealed password is past its life.
            await conn.execute("UPDATE credentials SET expires_at = now() - interval '1 second'")
            r = await api.post(f"/v1/accounts/{acc['id']}/credentials")
            assert r.status_code == 410
            assert r.json()["credential_state"] == "expired"
            assert await conn.fetchval("SELECT count(*) FROM credentials") == 0
            state = await conn.fetchval(
                "SELECT credential_state FROM accounts WHERE id = $1", uuid.UUID(acc["id"])
            )
            assert state == "expired"
        finally:
            await conn.close()
        assert (await api.post(f"/v1/accounts/{acc['id']}/credentials")).status_code == 410
        # O3: the destruction is audited once, by the operator whose reveal found it expired
        (row,) = (await api.get("/v1/audit", params={"action": "credentials.expired"})).json()[
            "items"
        ]
        assert (row["target_id"], row["actor"]) == (acc["id"], "op-alice")


async def test_user_removed_then_added_again_gets_a_new_account_and_password(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually
) -> None:
    dsn = await new_database()
    async with start_service(build_app(settings_for(dsn)), headers=auth_headers) as api:
        users = factories.users(2)
        a = factories.activated(users)
        await publish_event(nats_url, a)

        async def status_of(user_id: uuid.UUID) -> str:
            accs = {x["user_id"]: x for x in await _accounts(api, contract_id=a.contract_id)}
            return str(accs.get(str(user_id), {}).get("status"))

        async def is_(user_id: uuid.UUID, status: str) -> bool:
            return await status_of(user_id) == status

        await eventually(lambda: is_(users[1].user_id, "active"), what="provisioned")
        acc = next(
            x
            for x in await _accounts(api, contract_id=a.contract_id)
            if x["user_id"] == str(users[1].user_id)
        )
        first = (await api.post(f"/v1/accounts/{acc['id']}/credentials")).json()["password"]
        # Removed and re-added in quick succession: the revocation runs first, then a new user.
        await publish_event(nats_url, factories.amended(a, [], [users[1].user_id], version=3))
        await publish_event(nats_url, factories.amended(a, [users[1]], [], version=4))

        async def recreated() -> bool:
            # The new user live in Graph AND the account active: the old user's deletion is
            # visible in Graph before the revocation's record commits, when the account still
            # reads "active" from its first life (checking only that raced under load).
            state = await graph.state(TENANT)
            live = {u["userPrincipalName"] for u in state["users"]}
            return (
                len(state["deleted"]) == 1
                and acc["upn"] in live
                and await is_(users[1].user_id, "active")
            )

        await eventually(recreated, what="account re-created after its revocation")
        r = await api.post(f"/v1/accounts/{acc['id']}/credentials")
        assert r.status_code == 200, r.text
        second = r.json()["password"]
        assert second != first
        state = await graph.state(TENANT)
        live = next(u for u in state["users"] if u["userPrincipalName"] == acc["upn"])
        assert live["passwordSha256"] == hashlib.sha256(second.encode()).hexdigest()
        ops = [e["op"] for e in state["oplog"] if e["upn"] == acc["upn"]]
        assert ops == [
            "create",
            "assign_license",
            "disable",
            "revoke_sessions",
            "remove_license",
            "delete",
            "create",
            "assign_license",
        ]


async def test_reordered_events_are_applied_by_version(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually
) -> None:
    dsn = await new_database()
    async with start_service(build_app(settings_for(dsn)), headers=auth_headers) as api:
        # contract.ended seen before contract.activated: nothing is provisioned.
        gone = factories.activated(factories.users(2))
        await publish_event(nats_url, factories.ended(gone))
        await publish_event(nats_url, gone)
        await eventually(lambda: _processed(dsn, gone.event_id), what="late activation processed")
        assert await _accounts(api, contract_id=gone.contract_id) == []

        # An amendment (v3: removes A, adds B) seen before its activation (v2: lists A and C).
        a_user, c_user = factories.users(2, [("Alice", "Avril"), ("Chloé", "Clain")])
        b_user = factories.users(1, [("Bruno", "Boyer")])[0]
        act = factories.activated([a_user, c_user])
        amend = factories.amended(act, [b_user], [a_user.user_id], version=3)
        await publish_event(nats_url, amend)
        await publish_event(nats_url, act)
        await eventually(lambda: _processed(dsn, act.event_id), what="activation processed")

        async def settled() -> bool:
            accs = await _accounts(api, contract_id=act.contract_id)
            return sorted(x["status"] for x in accs) == ["active", "active"]

        await eventually(settled, what="B and C active")
        users = {x["user_id"] for x in await _accounts(api, contract_id=act.contract_id)}
        assert users == {str(b_user.user_id), str(c_user.user_id)}
        state = await graph.state(TENANT)
        assert {u["userPrincipalName"] for u in state["users"]} == {
            "bruno.boyer@prisme.re",
            "chloe.clain@prisme.re",
        }
        assert state["deleted"] == []


async def test_per_tenant_concurrency_limit_and_batch_size(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually
) -> None:
    dsn = await new_database()
    await graph.faults(latency_ms=40)
    other_client = uuid.uuid4()
    settings = settings_for(dsn, per_tenant_concurrency=2, max_concurrent_batches=8)
    async with start_service(build_app(settings), headers=auth_headers) as api:
        r = await api.put(
            f"/v1/tenants/{other_client}",
            json={"graph_tenant": "second-tenant", "domain": "second.re"},
        )
        assert r.status_code == 200
        contracts = [factories.activated(factories.users(5)) for _ in range(8)]
        contracts.append(factories.activated(factories.users(5), client_id=other_client))
        for c in contracts:
            await publish_event(nats_url, c)

        async def all_active() -> bool:
            accs = await _accounts(api)
            return len(accs) == 45 and all(x["status"] == "active" for x in accs)

        await eventually(all_active, timeout=60, what="45 accounts")
        state = (await graph.http.get("/_sandbox/state")).json()
        peak = state["max_concurrent_batches"]
        assert 1 <= peak[TENANT] <= 2, peak  # never more than the per-tenant limit
        assert peak["second-tenant"] >= 1
        counters = state["counters"]
        # $batch of at most 20 (the sandbox refuses more): 45 accounts x 3 calls in few batches
        assert counters["batches"] < 45 * 3
