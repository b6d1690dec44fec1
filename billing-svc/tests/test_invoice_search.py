"""The dashboard's global search finds an invoice by its number (B6: ``F2026-000123``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_testing.plugin import publish_event, start_service


async def test_an_invoice_is_found_by_its_number(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        first = activated(postes=6, start=date(2026, 3, 1), version=2)
        second = activated(postes=4, start=date(2026, 4, 1), version=2)
        for event in (first, second):
            await publish_event(billing_settings.nats_url, event)

        async def both() -> list[Any] | None:
            docs = list((await api.get("/v1/invoices")).json()["items"])
            return docs if len(docs) >= 2 else None

        docs = await wait_for(both)
        wanted = next(d for d in docs if d["contract_id"] == str(second.contract_id))
        for typed in (wanted["number"], f" {wanted['number'].lower()} "):
            found = (await api.get("/v1/invoices", params={"number": typed})).json()["items"]
            assert [d["id"] for d in found] == [wanted["id"]], typed
        assert (await api.get("/v1/invoices", params={"number": "F1999-000001"})).json()[
            "items"
        ] == []
