"""``GET /v1/year-end/{year}``: the year's ended contracts billing recorded and those whose
billing is closed, for the dashboard's year-end progress (issue 12)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import httpx
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_testing.plugin import publish_event, start_service


async def _effects(api: httpx.AsyncClient, year: int) -> dict[str, Any]:
    r = await api.get(f"/v1/year-end/{year}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_an_ended_contract_is_closed_once_nothing_waits_for_a_price(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    make_token: Callable[..., str],
    activated: Callable[..., Any],
    ended: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        priced = activated(postes=8, start=date(2026, 3, 15))
        # B1: the default book has no price for this offer: its charge waits
        unpriced = activated(postes=3, start=date(2026, 7, 1), offer="sav_sauvegarde")
        running = activated(postes=2, start=date(2026, 2, 1))
        for event in (priced, unpriced, running):
            await publish_event(billing_settings.nats_url, event)

        async def charged() -> bool:
            invoices = (await api.get("/v1/invoices")).json()["items"]
            waiting = (await api.get("/v1/charges", params={"status": "awaiting_price"})).json()
            waiting = waiting["items"]
            return len(invoices) == 2 and len(waiting) == 1

        await wait_for(charged)
        nothing = {"year": 2026, "unit": "contracts", "contracts_ended": 0, "done": 0}
        assert await _effects(api, 2026) == nothing | {"remaining": 0, "failed": 0}

        for act in (priced, unpriced):
            end = ended(act, date(2026, 12, 31), version=3, reason="year_end")
            await publish_event(billing_settings.nats_url, end)
        expected = nothing | {"contracts_ended": 2, "done": 1, "remaining": 1, "failed": 1}

        async def recorded() -> bool:
            return await _effects(api, 2026) == expected

        await wait_for(recorded)
        assert await _effects(api, 2025) == nothing | {"year": 2025, "remaining": 0, "failed": 0}

        for bad in ("42", "3001", "l-an-dernier"):
            r = await api.get(f"/v1/year-end/{bad}")
            assert r.status_code == 422, r.text
            assert r.headers["content-type"].startswith("application/problem+json")
        other = {"Authorization": f"Bearer {make_token(scopes=('licences:read',))}"}
        assert (await api.get("/v1/year-end/2026", headers=other)).status_code == 403
