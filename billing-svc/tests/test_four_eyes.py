"""O2: every kind of request goes through the same four eyes — the maker cannot decide, a
decided request is closed, a rejection applies nothing and is audited on what it concerned."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_testing.plugin import start_service

PRICES = {
    "prices": [
        {"offer": "prisme", "label": "Infogérance PRISME", "base_ttc": "3600.00",
         "included_postes": 6, "extra_poste_ttc": "360.00"},
    ],
    "reason": "tarifs 2027",
}  # fmt: skip
ITEMS = {
    "items": [{"code": "travail_horaire", "label": "Heure", "unit": "heure", "unit_ttc": "65.00"}],
    "reason": "tarif horaire",
}


async def test_price_changes_are_refused_by_the_same_four_eyes(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    make_token: Callable[..., str],
) -> None:
    bob = {"Authorization": f"Bearer {make_token(sub='op-bob', scopes=('billing:approve',))}"}
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        for path, body, kind in (
            ("/v1/price-book", PRICES, "price_book"),
            ("/v1/price-book/items", ITEMS, "price_items"),
        ):
            before = (await api.get(path)).json()
            asked = await api.put(path, json=body)
            assert asked.status_code == 202, asked.text
            decide = f"/v1/approvals/{asked.json()['id']}"
            own = await api.post(f"{decide}/reject", json={"note": "moi-même"})
            assert own.json()["type"].endswith("/problems/self-approval"), own.text
            refused = await api.post(f"{decide}/reject", json={"note": "trop cher"}, headers=bob)
            assert refused.status_code == 200, refused.text
            assert (refused.json()["status"], refused.json()["checker"]) == ("rejected", "op-bob")
            assert (await api.get(path)).json() == before  # nothing applied
            again = await api.post(f"{decide}/approve", json={"note": "finalement"}, headers=bob)
            assert again.status_code == 409
            assert again.json()["type"].endswith("/problems/approval-closed")
            trail = (await api.get("/v1/audit", params={"target": asked.json()["id"]})).json()
            assert [(e["action"], e["reason"]) for e in trail["items"]] == [
                (f"{kind}.change_rejected", "trop cher"),
                (f"{kind}.change_requested", body["reason"]),
            ]
        unknown = await api.post(
            f"/v1/approvals/{uuid.uuid4()}/approve", json={"note": "quoi ?"}, headers=bob
        )
        assert unknown.status_code == 404
        pending: Any = (await api.get("/v1/approvals", params={"status": "pending"})).json()
        assert pending == {"items": [], "next_cursor": None}
