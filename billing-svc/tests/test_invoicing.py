"""Contract events in, documents out (B1-B6), through the real bus, database and API."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_testing.plugin import collect_events, publish_event, start_service


def _assert_adds_up(doc: dict[str, Any]) -> None:
    for line in doc["lines"]:
        assert Decimal(line["total_ht"]) + Decimal(line["total_vat"]) == Decimal(line["total_ttc"])
    assert Decimal(doc["total_ht"]) + Decimal(doc["total_vat"]) == Decimal(doc["total_ttc"])
    assert sum(Decimal(ln["total_ttc"]) for ln in doc["lines"]) == Decimal(doc["total_ttc"])
    assert doc["currency"] == "EUR"


async def _invoices(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    r = await api.get("/v1/invoices", params={k: str(v) for k, v in params.items()})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_activation_amendment_cessation_through_the_bus(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    amended: Callable[..., Any],
    ended: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    url = billing_settings.nats_url
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        # B2: 8 postes from 15 March 2026 → 3340.80 TTC.
        act = activated(postes=8, start=date(2026, 3, 15), version=2)
        await publish_event(url, act)
        (inv,) = await wait_for(lambda: _invoices(api, contract_id=act.contract_id))
        assert (inv["total_ttc"], inv["total_ht"], inv["total_vat"]) == (
            "3340.80",
            "3079.08",
            "261.72",
        )
        assert re.fullmatch(r"F20\d\d-\d{6}", inv["number"])
        assert inv["status"] == "open"
        (line,) = inv["lines"]
        assert (line["period_start"], line["period_end"], line["postes"]) == (
            "2026-03-15",
            "2026-12-31",
            8,
        )
        assert (line["quantity"], line["unit_ttc"], line["unit_ht"]) == ("1", "3340.80", "3079.08")
        assert line["prorata"] == "292 jours sur 365, du 15/03/2026 au 31/12/2026"
        assert line["yearly_ttc"] == "4176.00"
        _assert_adds_up(inv)

        # Redelivery and a second publication of the same fact: still one invoice.
        await publish_event(url, act)
        await publish_event(url, act.model_copy(update={"event_id": uuid.uuid4()}))

        # B4: 8 → 9 postes on 1 June: 348.00 × 214/365 = 204.03; removing one refunds nothing.
        add = amended(act, postes_before=8, postes=9, effective=date(2026, 6, 1), version=3)
        await publish_event(url, add)
        await publish_event(url, amended(act, 9, 8, date(2026, 7, 1), version=4))
        docs = await wait_for(lambda: _more(api, act.contract_id, 2))
        extra = docs[1]
        assert extra["total_ttc"] == "204.03"
        assert (extra["total_ht"], extra["total_vat"]) == ("188.05", "15.98")
        _assert_adds_up(extra)

        # B5: cessation effective 30 June → each invoice credited for 1 July..31 December.
        await publish_event(url, ended(act, effective=date(2026, 6, 30), version=5))

        async def notes() -> list[dict[str, Any]]:
            r = await api.get("/v1/credit-notes", params={"client_id": str(act.client_id)})
            return list(r.json()["items"]) if len(r.json()["items"]) == 2 else []

        credit = {n["invoice_id"]: n for n in await wait_for(notes)}
        first = credit[inv["id"]]
        # 4176.00 × 184/365 = 2105.16; 348.00 × 184/365 = 175.43
        assert first["total_ttc"] == "2105.16"
        assert credit[extra["id"]]["total_ttc"] == "175.43"
        assert first["number"].startswith("A")
        for n in credit.values():
            _assert_adds_up(n)
            assert n["lines"][0]["period_start"] == "2026-07-01"

        events = await collect_events(url, ["invoice.issued", "credit_note.issued"], 4, timeout=10)
        subjects = sorted(e.subject for e in events)
        assert subjects == [
            "credit_note.issued",
            "credit_note.issued",
            "invoice.issued",
            "invoice.issued",
        ]
        issued = {getattr(e, "number", None): e for e in events}
        first_issued = issued[inv["number"]]
        assert first_issued.total_ttc == "3340.80"
        assert (first_issued.kind, first_issued.year) == (
            "activation",
            2026,
        )
        assert issued[extra["number"]].kind == "amendment"
        assert issued[first["number"]].invoice_number == inv["number"]
        # Duplicates and the amendment removing a poste produced nothing more.
        assert len(await _invoices(api, contract_id=act.contract_id)) == 2


async def _more(api: httpx.AsyncClient, contract_id: Any, n: int) -> list[dict[str, Any]]:
    docs = await _invoices(api, contract_id=contract_id)
    return docs if len(docs) >= n else []


async def test_end_before_activation_is_invoiced_then_credited(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    ended: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        act = activated(postes=6, start=date(2026, 1, 1), version=2)
        await publish_event(billing_settings.nats_url, ended(act, date(2026, 6, 30), version=3))
        await publish_event(billing_settings.nats_url, act)
        (inv,) = await wait_for(lambda: _invoices(api, contract_id=act.contract_id))
        assert inv["total_ttc"] == "3480.00"

        async def note() -> list[Any]:
            return list((await api.get("/v1/credit-notes")).json()["items"])

        (cn,) = await wait_for(note)
        assert (cn["total_ttc"], cn["total_ht"], cn["total_vat"]) == (
            "1754.30",
            "1616.87",
            "137.43",
        )
        assert cn["invoice_id"] == inv["id"]


async def test_offer_without_price_waits_then_is_invoiced(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    make_token: Callable[..., str],
    activated: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        act = activated(postes=3, start=date(2026, 7, 1), offer="sav_sauvegarde")
        await publish_event(billing_settings.nats_url, act)

        async def waiting() -> list[Any]:
            r = await api.get("/v1/charges", params={"status": "awaiting_price"})
            return list(r.json()["items"])

        (charge,) = await wait_for(waiting)
        state = (await api.get(f"/v1/contracts/{act.contract_id}/billing")).json()
        assert state["payment_status"] == "awaiting_price"
        unknown = await api.get(f"/v1/contracts/{uuid.uuid4()}/billing")
        assert unknown.status_code == 404
        assert charge["contract_id"] == str(act.contract_id)
        assert await _invoices(api) == []  # B1: nothing wrong is ever issued

        book = (await api.get("/v1/price-book")).json()
        assert book["version"] == 1
        assert book["prices"][0] == {
            "offer": "prisme",
            "level": "standard",
            "label": "Infogérance PRISME",
            "base_ttc": "3480.00",
            "included_postes": 6,
            "extra_poste_ttc": "348.00",
            "currency": "EUR",
        }
        # Bad input: a problem, and nothing changes.
        bad_price = {
            "offer": "x",
            "label": "x",
            "base_ttc": "-1",
            "included_postes": 1,
            "extra_poste_ttc": "0",
        }
        bad = await api.put("/v1/price-book", json={"prices": [bad_price], "reason": "essai"})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        twice = [book["prices"][0], book["prices"][0]]
        dup = await api.put("/v1/price-book", json={"prices": twice, "reason": "doublon"})
        assert dup.status_code == 422
        assert dup.json()["type"].endswith("/duplicate-offer")
        reader = {"Authorization": f"Bearer {make_token(scopes=('billing:read',))}"}
        forbidden = await api.put(
            "/v1/price-book", json={"prices": [], "reason": "essai"}, headers=reader
        )
        assert forbidden.status_code == 403
        assert (await api.get("/v1/price-book")).json()["version"] == 1

        new_book = {
            "prices": [
                *[{k: v for k, v in p.items() if k != "currency"} for p in book["prices"]],
                {
                    "offer": "sav_sauvegarde",
                    "label": "SAV illimité + sauvegarde",
                    "base_ttc": "1200.00",
                    "included_postes": 6,
                    "extra_poste_ttc": "120.00",
                },
            ],
            "reason": "tarif SAV 2026",
        }
        # O2: the change is a request; nothing is priced or invoiced until it is approved
        r = await api.put("/v1/price-book", json=new_book)
        assert r.status_code == 202, r.text
        request = r.json()
        assert (request["kind"], request["status"], request["maker"]) == (
            "price_book",
            "pending",
            "op-alice",
        )
        assert (await api.get("/v1/price-book")).json()["version"] == 1
        assert len(await waiting()) == 1
        decision = {"note": "vérifié avec la grille publiée"}
        self_approval = await api.post(f"/v1/approvals/{request['id']}/approve", json=decision)
        assert self_approval.status_code == 403
        assert self_approval.json()["type"].endswith("/self-approval")
        maker_only = {
            "Authorization": f"Bearer {make_token(sub='op-carl', scopes=('billing:write',))}"
        }
        no_scope = await api.post(
            f"/v1/approvals/{request['id']}/approve", json=decision, headers=maker_only
        )
        assert no_scope.status_code == 403
        checker = {
            "Authorization": f"Bearer {make_token(sub='op-bob', scopes=('billing:approve',))}"
        }
        r = await api.post(f"/v1/approvals/{request['id']}/approve", json=decision, headers=checker)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["checker"], r.json()["result_version"]) == (
            "approved",
            "op-bob",
            2,
        )
        book2 = (await api.get("/v1/price-book")).json()
        assert (book2["version"], book2["created_by"], book2["approved_by"]) == (
            2,
            "op-alice",
            "op-bob",
        )
        (inv,) = await _invoices(api, contract_id=act.contract_id)
        # 1200.00 × 184/365 = 604.93
        assert inv["total_ttc"] == "604.93"
        assert (await waiting()) == []
        again = await api.post(
            f"/v1/approvals/{request['id']}/approve", json=decision, headers=checker
        )
        assert again.status_code == 409
        # O3: the request and the approval are in the audit trail, with the change
        trail = (await api.get("/v1/audit", params={"action": "price_book.changed"})).json()
        (changed,) = trail["items"]
        assert changed["actor"] == "op-bob"
        assert changed["reason"] == decision["note"]
        assert changed["before"]["version"] == 1
        assert changed["after"]["version"] == 2
        assert "sav_sauvegarde" in [p["offer"] for p in changed["after"]["prices"]]


async def test_manual_payment_and_auth(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Callable[..., Awaitable[Any]],
) -> None:
    async with start_service(build_app(billing_settings), headers=auth_headers) as api:
        assert (await api.get("/v1/invoices", headers={"Authorization": ""})).status_code == 401
        assert (
            await api.get("/v1/invoices", headers={"Authorization": "Bearer nope"})
        ).status_code == 401
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(billing_settings.nats_url, act)
        (inv,) = await wait_for(lambda: _invoices(api, contract_id=act.contract_id))
        path = f"/v1/invoices/{inv['id']}/payments"
        too_much = await api.post(
            path, json={"method": "cheque", "amount": "3480.01", "paid_on": "2026-02-01"}
        )
        assert too_much.status_code == 422
        bad = await api.post(
            path, json={"method": "cash", "amount": "10.00", "paid_on": "2026-02-01"}
        )
        assert bad.status_code == 422
        part = await api.post(
            path, json={"method": "cheque", "amount": "1000.00", "paid_on": "2026-02-01"}
        )
        assert part.status_code == 201, part.text
        assert (part.json()["status"], part.json()["amount_paid"]) == ("open", "1000.00")
        rest = await api.post(
            path,
            json={
                "method": "bank_transfer",
                "amount": "2480.00",
                "paid_on": "2026-02-03",
                "reference": "VIR 42",
            },
        )
        assert (rest.json()["status"], rest.json()["amount_paid"]) == ("paid", "3480.00")
        again = await api.post(
            path, json={"method": "cheque", "amount": "1.00", "paid_on": "2026-02-04"}
        )
        assert again.status_code == 409
        (paid,) = await collect_events(billing_settings.nats_url, "invoice.paid", 1)
        assert (paid.number, paid.method) == (
            inv["number"],
            "bank_transfer",
        )
        missing = await api.get("/v1/invoices/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404
