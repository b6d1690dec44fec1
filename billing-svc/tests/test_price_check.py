"""B1: activating a contract whose offer has no price is refused by contracts-svc, with a
problem naming the missing price, after asking billing-svc's pre-activation check. Both
services run for real (in-process, their own databases, one NATS)."""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from prisme_billing.app import build_app as build_billing
from prisme_billing.settings import BillingSettings
from prisme_chassis.clock import CLOCK, REUNION
from prisme_contracts.app import build_app as build_contracts
from prisme_contracts.settings import ContractsSettings
from prisme_testing.plugin import start_service
from pydantic import ValidationError


@contextlib.asynccontextmanager
async def _contracts(
    base_settings: dict[str, Any], dsn: str, headers: dict[str, str], **settings: Any
) -> AsyncIterator[httpx.AsyncClient]:
    CLOCK.travel_to(datetime(CLOCK.today().year, 2, 1, 10, 0, tzinfo=REUNION))
    conf = ContractsSettings(**base_settings, database_url=dsn, **settings)
    async with start_service(build_contracts(conf), headers=headers) as api:
        yield api


async def _draft(api: httpx.AsyncClient, offer: str, level: str | None = None) -> str:
    r = await api.post(
        "/v1/clients",
        json={
            "name": "Cabinet des Tamarins",
            "siren": "552100554",
            "manager": {"name": "Dr Payet", "email": "dr@tamarins.re", "phone": "0262 12 34 56"},
            "address": {"line1": "1 rue", "postal_code": "97490", "city": "Sainte-Clotilde"},
        },
    )
    assert r.status_code == 201, r.text
    c = r.json()
    await api.put(
        f"/v1/clients/{c['id']}/network",
        json={"lan_count": 1, "download_mbps": 1000, "upload_mbps": 600},
    )
    for name in ("PC1", "PC2"):
        r = await api.post(
            f"/v1/clients/{c['id']}/assets",
            json={
                "name": name,
                "function": "poste",
                "kind": "workstation",
                "form": "physical",
                "os": "Windows 11 Pro",
                "supplied_by": "provider",
            },
        )
        assert r.status_code == 201, r.text
    year = date.today().year
    r = await api.post(
        "/v1/contracts",
        json={"client_id": c["id"], "offer": offer, "start_date": f"{year}-03-01"}
        | ({"level": level} if level else {}),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_an_unpriced_offer_is_not_activated(
    billing_settings: BillingSettings,
    base_settings: dict[str, Any],
    new_database: Callable[[], Awaitable[str]],
    auth_headers: dict[str, str],
    make_token: Callable[..., str],
) -> None:
    reader = make_token(sub="contracts-svc", scopes=("billing:read",))
    async with start_service(build_billing(billing_settings), headers=auth_headers) as billing:
        check = await billing.get("/v1/price-book/check", params={"offer": "sav_sauvegarde"})
        assert check.json()["priced"] is False
        assert "sav_sauvegarde" in check.json()["missing_price"]
        assert (await billing.get("/v1/price-book/check", params={"offer": "prisme"})).json()[
            "priced"
        ] is True
        async with _contracts(
            base_settings,
            await new_database(),
            auth_headers,
            billing_url=str(billing.base_url).rstrip("/"),
            billing_token=reader,
        ) as contracts:
            sav = await _draft(contracts, "sav_sauvegarde")
            refused = await contracts.post(f"/v1/contracts/{sav}/activate")
            assert refused.status_code == 422, refused.text
            problem = refused.json()
            assert problem["type"].endswith("/problems/offer-unpriced")
            assert problem["offer"] == "sav_sauvegarde"
            assert "sav_sauvegarde" in problem["missing_price"]
            assert "sav_sauvegarde" in problem["detail"]
            # Nothing changed: still a draft, and billing saw no activation.
            assert (await contracts.get(f"/v1/contracts/{sav}")).json()["status"] == "draft"

            ok = await contracts.post(f"/v1/contracts/{await _draft(contracts, 'prisme')}/activate")
            assert ok.status_code == 200, ok.text

            # Once the accountant prices the offer (and another operator approves, O2), the
            # same draft activates.
            await _price(billing, make_token, "sav_sauvegarde", "standard", "1200.00")
            again = await contracts.post(f"/v1/contracts/{sav}/activate")
            assert again.status_code == 200, again.text


async def _price(
    billing: httpx.AsyncClient,
    make_token: Callable[..., str],
    offer: str,
    level: str,
    base_ttc: str,
) -> None:
    """Add (offer, level) to the price book: requested by the admin, approved by another."""
    book = (await billing.get("/v1/price-book")).json()
    prices = [{k: v for k, v in p.items() if k != "currency"} for p in book["prices"]]
    prices.append(
        {
            "offer": offer,
            "level": level,
            "label": f"{offer} ({level})",
            "base_ttc": base_ttc,
            "included_postes": 6,
            "extra_poste_ttc": "120.00",
        }
    )
    r = await billing.put("/v1/price-book", json={"prices": prices, "reason": "nouveau tarif"})
    assert r.status_code == 202, r.text
    checker = {"Authorization": f"Bearer {make_token(sub='op-bob', scopes=('billing:approve',))}"}
    decided = await billing.post(
        f"/v1/approvals/{r.json()['id']}/approve", json={"note": "conforme"}, headers=checker
    )
    assert decided.status_code == 200, decided.text


async def test_the_price_depends_on_the_level_an_unpriced_level_is_not_activated(
    billing_settings: BillingSettings,
    base_settings: dict[str, Any],
    new_database: Callable[[], Awaitable[str]],
    auth_headers: dict[str, str],
    make_token: Callable[..., str],
) -> None:
    """B1: the price book is keyed by (offer, level): PRISME is priced at the default level
    only, so a PRISME contract at another level is refused until that level is priced."""
    reader = make_token(sub="contracts-svc", scopes=("billing:read",))
    async with start_service(build_billing(billing_settings), headers=auth_headers) as billing:
        check = await billing.get(
            "/v1/price-book/check", params={"offer": "prisme", "level": "renforce"}
        )
        assert (check.json()["priced"], check.json()["level"]) == (False, "renforce")
        assert "« renforce »" in check.json()["missing_price"]
        default = await billing.get("/v1/price-book/check", params={"offer": "prisme"})
        assert (default.json()["priced"], default.json()["level"]) == (True, "standard")
        async with _contracts(
            base_settings,
            await new_database(),
            auth_headers,
            billing_url=str(billing.base_url).rstrip("/"),
            billing_token=reader,
        ) as contracts:
            r = await contracts.post(
                "/v1/levels",
                json={"code": "renforce", "label": "Niveau renforcé", "description": "7j/7"},
            )
            assert r.status_code == 201, r.text
            draft = await _draft(contracts, "prisme", level="renforce")
            refused = await contracts.post(f"/v1/contracts/{draft}/activate")
            assert refused.status_code == 422, refused.text
            problem = refused.json()
            assert problem["type"].endswith("/problems/offer-unpriced")
            assert (problem["offer"], problem["level"]) == ("prisme", "renforce")
            assert "renforce" in problem["detail"]
            assert (await contracts.get(f"/v1/contracts/{draft}")).json()["status"] == "draft"

            await _price(billing, make_token, "prisme", "renforce", "4800.00")
            ok = await contracts.post(f"/v1/contracts/{draft}/activate")
            assert ok.status_code == 200, ok.text
            assert ok.json()["level"] == "renforce"


async def test_activation_waits_for_billing_when_it_cannot_answer(
    base_settings: dict[str, Any],
    new_database: Callable[[], Awaitable[str]],
    auth_headers: dict[str, str],
) -> None:
    async with _contracts(
        base_settings,
        await new_database(),
        auth_headers,
        billing_url="http://127.0.0.1:9",  # nothing listens there
        billing_token="t",
    ) as contracts:
        draft = await _draft(contracts, "prisme")
        r = await contracts.post(f"/v1/contracts/{draft}/activate")
        assert r.status_code == 503
        assert r.json()["type"].endswith("/problems/billing-unavailable")
        assert (await contracts.get(f"/v1/contracts/{draft}")).json()["status"] == "draft"


def test_contracts_production_needs_the_billing_check(base_settings: dict[str, Any]) -> None:
    prod = {
        **base_settings,
        "env": "production",
        "database_url": "postgresql://x/y",
        "documents_key": base64.b64encode(os.urandom(32)).decode(),  # C6 documents, sealed
    }
    with pytest.raises(ValidationError, match="PRISME_CONTRACTS_BILLING_URL"):
        ContractsSettings(**prod)
    ok = ContractsSettings(**prod, billing_url="https://billing.internal", billing_token="tok")
    assert ok.billing_url == "https://billing.internal"
