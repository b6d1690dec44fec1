"""The Graph sandbox behaves like the Graph endpoints licence-svc relies on."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import httpx
import pytest
from prisme_graph_sandbox import Directory, create_app
from prisme_localinfra import free_port


async def _client(directory: Directory | None = None) -> httpx.AsyncClient:
    app = create_app(directory or Directory({"O365_BUSINESS": 2}))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://graph")


async def _token(c: httpx.AsyncClient, tenant: str = "contoso") -> dict[str, str]:
    r = await c.post(
        f"/{tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "app",
            "client_secret": "s3cret",
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] > 0
    return {"Authorization": f"Bearer {body['access_token']}"}


def _new_user(upn: str, usage: str | None = "FR") -> dict[str, Any]:
    body: dict[str, Any] = {
        "accountEnabled": True,
        "displayName": "Jean Dupont",
        "mailNickname": upn.split("@")[0],
        "userPrincipalName": upn,
        "passwordProfile": {"password": "Xy7!long-password", "forceChangePasswordNextSignIn": True},
    }
    if usage:
        body["usageLocation"] = usage
    return body


async def _sku_id(c: httpx.AsyncClient, h: dict[str, str]) -> str:
    skus = (await c.get("/v1.0/subscribedSkus", headers=h)).json()["value"]
    return next(s["skuId"] for s in skus if s["skuPartNumber"] == "O365_BUSINESS")


async def test_token_required_and_bad_grant_refused() -> None:
    async with await _client() as c:
        r = await c.get("/v1.0/users")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "InvalidAuthenticationToken"
        r = await c.post("/t/oauth2/v2.0/token", data={"grant_type": "password"})
        assert r.status_code == 400
        r = await c.post("/t/oauth2/v2.0/token", data={"grant_type": "client_credentials"})
        assert r.status_code == 401


async def test_users_lifecycle_and_oplog_order() -> None:
    async with await _client() as c:
        h = await _token(c)
        r = await c.post("/v1.0/users", json=_new_user("jean.dupont@contoso.re"), headers=h)
        assert r.status_code == 201
        uid = r.json()["id"]
        assert "passwordProfile" not in r.json()
        dup = await c.post("/v1.0/users", json=_new_user("Jean.Dupont@contoso.re"), headers=h)
        assert dup.status_code == 400
        assert "already exists" in dup.json()["error"]["message"]
        by_upn = await c.get("/v1.0/users/jean.dupont@contoso.re", headers=h)
        assert by_upn.json()["id"] == uid
        found = await c.get(
            "/v1.0/users",
            params={"$filter": "userPrincipalName eq 'jean.dupont@contoso.re'"},
            headers=h,
        )
        assert [u["id"] for u in found.json()["value"]] == [uid]
        sku = await _sku_id(c, h)
        r = await c.post(
            f"/v1.0/users/{uid}/assignLicense",
            json={"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []},
            headers=h,
        )
        assert r.status_code == 200
        skus = (await c.get("/v1.0/subscribedSkus", headers=h)).json()["value"]
        o365 = next(s for s in skus if s["skuId"] == sku)
        assert (o365["consumedUnits"], o365["prepaidUnits"]["enabled"]) == (1, 2)
        assert (
            await c.patch(f"/v1.0/users/{uid}", json={"accountEnabled": False}, headers=h)
        ).status_code == 204
        assert (await c.post(f"/v1.0/users/{uid}/revokeSignInSessions", headers=h)).json()[
            "value"
        ] is True
        r = await c.post(
            f"/v1.0/users/{uid}/assignLicense",
            json={"addLicenses": [], "removeLicenses": [sku]},
            headers=h,
        )
        assert r.status_code == 200
        again = await c.post(
            f"/v1.0/users/{uid}/assignLicense",
            json={"addLicenses": [], "removeLicenses": [sku]},
            headers=h,
        )
        assert again.status_code == 400
        assert (await c.delete(f"/v1.0/users/{uid}", headers=h)).status_code == 204
        assert (await c.get(f"/v1.0/users/{uid}", headers=h)).status_code == 404
        deleted = (
            await c.get("/v1.0/directory/deletedItems/microsoft.graph.user", headers=h)
        ).json()["value"]
        assert [u["id"] for u in deleted] == [uid]
        assert deleted[0]["deletedDateTime"]
        state = (await c.get("/_sandbox/state", params={"tenant": "contoso"})).json()
        ops = [e["op"] for e in state["oplog"]]
        assert ops == [
            "create",
            "assign_license",
            "disable",
            "revoke_sessions",
            "remove_license",
            "delete",
        ]


async def test_licence_rules_usage_location_and_seats() -> None:
    async with await _client() as c:
        h = await _token(c)
        sku = await _sku_id(c, h)
        nowhere = (
            await c.post("/v1.0/users", json=_new_user("a@x.re", usage=None), headers=h)
        ).json()["id"]
        body = {"addLicenses": [{"skuId": sku}], "removeLicenses": []}
        r = await c.post(f"/v1.0/users/{nowhere}/assignLicense", json=body, headers=h)
        assert r.status_code == 400
        assert "usage location" in r.json()["error"]["message"]
        ids = [
            (await c.post("/v1.0/users", json=_new_user(f"u{i}@x.re"), headers=h)).json()["id"]
            for i in range(3)
        ]
        assert (
            await c.post(f"/v1.0/users/{ids[0]}/assignLicense", json=body, headers=h)
        ).status_code == 200
        assert (
            await c.post(f"/v1.0/users/{ids[1]}/assignLicense", json=body, headers=h)
        ).status_code == 200
        full = await c.post(f"/v1.0/users/{ids[2]}/assignLicense", json=body, headers=h)
        assert full.status_code == 400
        assert "does not have any available licenses" in full.json()["error"]["message"]
        await c.post(
            "/_sandbox/tenants/contoso/seats",
            json={"sku_part_number": "O365_BUSINESS", "enabled": 3},
        )
        assert (
            await c.post(f"/v1.0/users/{ids[2]}/assignLicense", json=body, headers=h)
        ).status_code == 200


async def test_tenants_are_isolated() -> None:
    async with await _client() as c:
        a, b = await _token(c, "tenant-a"), await _token(c, "tenant-b")
        await c.post("/v1.0/users", json=_new_user("same@x.re"), headers=a)
        assert (
            await c.post("/v1.0/users", json=_new_user("same@x.re"), headers=b)
        ).status_code == 201
        assert (await c.get("/v1.0/users/same@x.re", headers=a)).json()["id"] != (
            await c.get("/v1.0/users/same@x.re", headers=b)
        ).json()["id"]


async def test_batch_limits_dependencies_and_injected_throttling() -> None:
    async with await _client() as c:
        h = await _token(c)
        too_many = [{"id": str(i), "method": "GET", "url": "/subscribedSkus"} for i in range(21)]
        assert (
            await c.post("/v1.0/$batch", json={"requests": too_many}, headers=h)
        ).status_code == 400
        reqs = [
            {
                "id": "1",
                "method": "POST",
                "url": "/users",
                "body": _new_user("b1@x.re"),
                "headers": {"Content-Type": "application/json"},
            },
            {"id": "2", "method": "GET", "url": "/users/b1@x.re", "dependsOn": ["1"]},
            {"id": "3", "method": "GET", "url": "/users/missing@x.re"},
            {"id": "4", "method": "GET", "url": "/users/b1@x.re", "dependsOn": ["3"]},
        ]
        out = {
            r["id"]: r
            for r in (await c.post("/v1.0/$batch", json={"requests": reqs}, headers=h)).json()[
                "responses"
            ]
        }
        assert [out[k]["status"] for k in "1234"] == [201, 200, 404, 424]
        assert out["3"]["body"]["error"]["code"] == "Request_ResourceNotFound"
        await c.post(
            "/_sandbox/faults", json={"throttle_fraction": 0.5, "retry_after_seconds": 3, "seed": 7}
        )
        many = [{"id": str(i), "method": "GET", "url": "/subscribedSkus"} for i in range(20)]
        responses = (await c.post("/v1.0/$batch", json={"requests": many}, headers=h)).json()[
            "responses"
        ]
        throttled = [r for r in responses if r["status"] == 429]
        assert 0 < len(throttled) < 20
        assert all(r["headers"]["Retry-After"] == "3" for r in throttled)
        assert all(r["status"] in (200, 429) for r in responses)
        await c.post("/_sandbox/faults", json={"throttle_fraction": 1.0})
        r = await c.get("/v1.0/subscribedSkus", headers=h)
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "3"


@pytest.mark.parametrize("bad", [{}, {"requests": "x"}, {"requests": [{"id": "1"}, {"id": "1"}]}])
async def test_batch_rejects_malformed(bad: dict[str, Any]) -> None:
    async with await _client() as c:
        h = await _token(c)
        assert (await c.post("/v1.0/$batch", json=bad, headers=h)).status_code == 400


async def test_entry_point_serves_on_the_given_port() -> None:
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
        [sys.executable, "-m", "prisme_graph_sandbox", "--port", str(port), "--seats", "3"]
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as c:
            for _ in range(200):
                try:
                    if (await c.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            h = await _token(c, "t")
            skus = (await c.get("/v1.0/subscribedSkus", headers=h)).json()["value"]
            o365 = next(s for s in skus if s["skuPartNumber"] == "O365_BUSINESS")
            assert o365["prepaidUnits"]["enabled"] == 3
    finally:
        proc.terminate()
        proc.wait(10)
