"""``GET /v1/year-end/{year}``: the accounts of a year's ended contracts, revoked or still to
revoke (L3), for the dashboard's year-end progress (issue 12)."""

from __future__ import annotations

from typing import Any

import httpx
from prisme_licence.app import build_app
from prisme_testing.plugin import publish_event, start_service


async def _effects(api: httpx.AsyncClient, year: int) -> dict[str, Any]:
    r = await api.get(f"/v1/year-end/{year}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_counts_the_revocations_of_the_years_ended_contracts(
    new_database, settings_for, graph, factories, auth_headers, nats_url, eventually, make_token
) -> None:
    dsn = await new_database()
    async with start_service(build_app(settings_for(dsn)), headers=auth_headers) as api:
        prisme = factories.activated(factories.users(2), year=2026)
        sav = factories.activated(factories.users(1), offer="sav_sauvegarde", year=2026)
        earlier = factories.activated(factories.users(1, [("Noël", "Rivière")]), year=2025)
        for event in (prisme, sav, earlier):
            await publish_event(nats_url, event)

        async def provisioned() -> bool:
            accounts = (await api.get("/v1/accounts")).json()["items"]
            return len(accounts) == 3 and all(a["status"] == "active" for a in accounts)

        await eventually(provisioned, what="3 active accounts")
        nothing = {"year": 2026, "unit": "accounts", "contracts_ended": 0, "done": 0}
        assert await _effects(api, 2026) == nothing | {"remaining": 0, "failed": 0}

        await publish_event(nats_url, factories.ended(prisme))
        await publish_event(nats_url, factories.ended(sav))
        expected = {"contracts_ended": 2, "done": 2, "remaining": 0, "failed": 0}

        async def revoked() -> bool:
            got = await _effects(api, 2026)
            return {k: got[k] for k in expected} == expected

        await eventually(revoked, what="the 2 accounts of 2026 revoked")
        # the other year's contract is still running: nothing of it counts
        assert await _effects(api, 2025) == nothing | {"year": 2025, "remaining": 0, "failed": 0}

        for bad in ("99", "3000", "deux-mille"):
            r = await api.get(f"/v1/year-end/{bad}")
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
        other = {"Authorization": f"Bearer {make_token(scopes=('videos:read',))}"}
        assert (await api.get("/v1/year-end/2026", headers=other)).status_code == 403
        reader = {"Authorization": f"Bearer {make_token(scopes=('licences:read',))}"}
        assert (await api.get("/v1/year-end/2026", headers=reader)).status_code == 200
