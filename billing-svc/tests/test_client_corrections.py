"""C8: a corrected identity reaches later documents; finalised ones keep theirs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import asyncpg
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_events import Address, ClientCorrected
from prisme_testing.events import drained
from prisme_testing.plugin import publish_event, start_service


async def test_a_correction_reaches_the_next_invoice_not_the_issued_one(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    amended: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
    pool: asyncpg.Pool,
) -> None:
    url = billing_settings.nats_url
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        act = activated(postes=6, start=date(2026, 3, 1), version=2)
        await publish_event(url, act)

        async def invoices(n: int) -> list[Any] | None:
            r = await api.get("/v1/invoices", params={"contract_id": str(act.contract_id)})
            docs = list(r.json()["items"])
            return docs if len(docs) >= n else None

        (first,) = await wait_for(lambda: invoices(1))
        moved = act.client.model_copy(
            update={
                "name": "Cabinet médical du Port",
                "address": Address(line1="1 quai Ouest", postal_code="97420", city="Le Port"),
            }
        )
        await publish_event(
            url, ClientCorrected(client=moved, version=1, changed=["address.city", "name"])
        )
        # A later contract event still carries the old snapshot: it must not undo the fix.
        await publish_event(url, amended(act, 6, 7, date(2026, 6, 1), version=3))
        docs = await wait_for(lambda: invoices(2))
        second = next(d for d in docs if d["id"] != first["id"])

        buyers = {
            str(r["id"]): dict(r["buyer"])
            for r in await pool.fetch(
                "SELECT id, buyer FROM documents WHERE id = ANY($1::uuid[])",
                [first["id"], second["id"]],
            )
        }
        assert buyers[first["id"]]["name"] == act.client.name  # finalised: unchanged
        assert (buyers[second["id"]]["name"], buyers[second["id"]]["city"]) == (
            "Cabinet médical du Port",
            "Le Port",
        )
        # A stale (replayed) correction changes nothing.
        await publish_event(url, ClientCorrected(client=act.client, version=1, changed=["name"]))
        await wait_for(lambda: drained(url, "billing-contracts"))
        row = await pool.fetchrow(
            "SELECT name, identity_version FROM clients WHERE client_id = $1", act.client_id
        )
        assert row is not None
        assert (row["name"], row["identity_version"]) == ("Cabinet médical du Port", 1)
        # O3: the applied correction has its row, by the event; the stale one none
        trail = (await api.get("/v1/audit", params={"action": "client.corrected"})).json()
        assert [(r["actor"], r["target_id"], r["after"]["name"]) for r in trail["items"]] == [
            ("event:client.corrected", str(act.client_id), "Cabinet médical du Port")
        ]
