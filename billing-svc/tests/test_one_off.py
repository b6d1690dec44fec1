"""B9: an on-site intervention with travel in zone Sud and 2 h of out-of-contract work,
recorded in March, produces one invoice dated 31 March with the price-book amounts, in the F
series, as a Factur-X the EN 16931 schematron accepts."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from prisme_billing import one_off
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_chassis.calendar import REUNION
from prisme_chassis.db import create_pool, transaction
from prisme_events import BillableItem, InterventionRecorded
from prisme_testing.plugin import collect_events, publish_event, start_service

from .conftest import Schematron
from .test_facturx import check_document
from .test_stripe import _invoice

Wait = Callable[..., Awaitable[Any]]

ITEMS = [
    {
        "code": "deplacement_sud",
        "label": "Déplacement zone Sud",
        "unit": "forfait",
        "unit_ttc": "65.00",
    },
    {
        "code": "travail_horaire",
        "label": "Travail hors contrat",
        "unit": "heure",
        "unit_ttc": "90.00",
    },
]


async def test_march_intervention_is_invoiced_on_31_march(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    make_token: Callable[..., str],
    activated: Callable[..., Any],
    wait_for: Wait,
    schematron: Schematron,
) -> None:
    s = billing_settings
    async with start_service(build_app(s), headers=auth_headers) as api:
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        yearly = await _invoice(api, wait_for, act.contract_id)
        # O2: the items are a price-book change: requested, then approved by another operator
        r = await api.put("/v1/price-book/items", json={"items": ITEMS, "reason": "tarifs 2026"})
        assert r.status_code == 202, r.text
        assert (r.json()["kind"], r.json()["status"]) == ("price_items", "pending")
        assert (await api.get("/v1/price-book/items")).json() == []
        own = await api.post(f"/v1/approvals/{r.json()['id']}/approve", json={"note": "ok moi"})
        assert own.status_code == 403
        checker = {
            "Authorization": f"Bearer {make_token(sub='op-bob', scopes=('billing:approve',))}"
        }
        decided = await api.post(
            f"/v1/approvals/{r.json()['id']}/approve", json={"note": "conforme"}, headers=checker
        )
        assert decided.status_code == 200, decided.text
        trail = (await api.get("/v1/audit", params={"action": "price_items.changed"})).json()
        (changed,) = trail["items"]
        assert changed["before"] == {"items": []}
        assert [i["code"] for i in changed["after"]["items"]] == [i["code"] for i in ITEMS]
        assert [i["unit_ttc"] for i in (await api.get("/v1/price-book/items")).json()] == [
            "65.00",
            "90.00",
        ]
        ev = InterventionRecorded(
            intervention_id=uuid.uuid4(),
            client_id=act.client_id,
            contract_id=act.contract_id,
            started_at=datetime(2026, 3, 10, 9, 0, tzinfo=REUNION),
            duration_minutes=150,
            mode="on_site",
            billable=[
                BillableItem(
                    kind="travel", price_code="deplacement_sud", quantity=Decimal(1), zone="sud"
                ),
                BillableItem(kind="work", price_code="travail_horaire", quantity=Decimal(2)),
            ],
        )
        await publish_event(s.nats_url, ev)
        await publish_event(s.nats_url, ev)  # a redelivery records nothing more
        pool = await create_pool(s.database_url, max_size=2)
        try:

            async def recorded() -> bool:
                async with pool.acquire() as conn:
                    n = await conn.fetchval("SELECT count(*) FROM one_off_items")
                return bool(n == 2)

            await wait_for(recorded)
            async with transaction(pool) as conn:  # still March: nothing yet
                assert await one_off.invoice_ended_months(conn, date(2026, 3, 31)) == 0
            async with transaction(pool) as conn:
                assert await one_off.invoice_ended_months(conn, date(2026, 4, 1)) == 1
            async with transaction(pool) as conn:
                assert await one_off.invoice_ended_months(conn, date(2026, 4, 2)) == 0
        finally:
            await pool.close()

        docs = (await api.get("/v1/invoices", params={"client_id": str(act.client_id)})).json()[
            "items"
        ]
        (inv,) = [d for d in docs if d["id"] != yearly["id"]]
        assert inv["issue_date"] == "2026-03-31"
        assert inv["number"].startswith("F2026-")
        lines = [
            (ln["quantity"], ln["unit"], ln["unit_ttc"], ln["total_ttc"]) for ln in inv["lines"]
        ]
        assert lines == [("1", "forfait", "65.00", "65.00"), ("2", "heure", "90.00", "180.00")]
        assert inv["total_ttc"] == "245.00"
        # O3: issued by the monthly job, audited by it
        (row,) = [
            r
            for r in (await api.get("/v1/audit", params={"target": inv["id"]})).json()["items"]
            if r["action"] == "invoice.issued"
        ]
        assert (row["actor"], row["detail"]["number"]) == (
            "system:one-off-invoicing",
            inv["number"],
        )
        assert row["detail"]["total_ttc"] == "245.00"
        assert sum(Decimal(ln["total_ht"]) for ln in inv["lines"]) == Decimal(inv["total_ht"])
        assert all(ln["prorata"] is None for ln in inv["lines"])
        assert "zone sud" in inv["lines"][0]["description"]
        await check_document(api, inv, schematron, s)
        issued = await collect_events(s.nats_url, "invoice.issued", 2)
        assert {e.kind for e in issued} == {"activation", "one_off"}
