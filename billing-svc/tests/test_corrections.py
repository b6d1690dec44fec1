"""B6/O2: correcting credit notes under four eyes, several per invoice up to its amount,
numbered without gaps in the A series, refunded through Stripe when paid by card and as a
manual refund (recorded by the accountant) when paid by cheque or transfer; audited (O3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import stripe
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_stripe_sandbox import SandboxServer
from prisme_testing.plugin import collect_events, publish_event, start_service

from .conftest import Schematron
from .test_facturx import check_document
from .test_stripe import _invoice, _status, _stripe_invoice, billing

Wait = Callable[..., Awaitable[Any]]


def _as(make_token: Callable[..., str], sub: str, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(sub=sub, scopes=scopes or ('admin',))}"}


async def test_corrections_need_a_second_operator_and_never_exceed_the_invoice(
    billing_settings: BillingSettings,
    auth_headers: dict[str, str],
    make_token: Callable[..., str],
    activated: Callable[..., Any],
    wait_for: Wait,
    schematron: Schematron,
) -> None:
    s = billing_settings
    alice = _as(make_token, "op-alice", "billing:write", "billing:read", "billing:approve")
    bob = _as(make_token, "op-bob", "billing:approve", "billing:read")
    reader = _as(make_token, "op-dan", "billing:read")
    carol = _as(make_token, "op-carol", "billing:read", "billing:write")  # may not approve
    async with start_service(build_app(s), headers=alice) as api:
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        total = Decimal(inv["total_ttc"])
        # The practice paid by cheque (recorded by the accountant, audited).
        paid = await api.post(
            f"/v1/invoices/{inv['id']}/payments",
            json={"method": "cheque", "amount": inv["total_ttc"], "paid_on": "2026-01-20"},
        )
        assert paid.json()["status"] == "paid"

        path = f"/v1/invoices/{inv['id']}/credit-notes"
        assert (await api.post(path, json={"amount_ttc": "1.00"})).status_code == 422  # reason
        assert (
            await api.post(path, json={"amount_ttc": "1.00", "reason": "trop payé"}, headers=reader)
        ).status_code == 403
        first = await api.post(path, json={"amount_ttc": "100.00", "reason": "remise commerciale"})
        assert first.status_code == 202, first.text
        request = first.json()
        assert (request["status"], request["maker"]) == ("pending", "op-alice")
        assert await _list(api, "/v1/credit-notes") == []  # nothing before approval

        # O2: the maker cannot approve (nor reject) her own request.
        decide = f"/v1/approvals/{request['id']}"
        own = await api.post(f"{decide}/approve", json={"note": "ok pour moi"})
        assert own.status_code == 403
        assert own.json()["type"].endswith("/problems/self-approval")
        assert (await api.post(f"{decide}/reject", json={"note": "non"})).status_code == 403
        assert (
            await api.post(f"{decide}/approve", json={"note": "vu"}, headers=carol)
        ).status_code == 403
        assert [a["id"] for a in await _list(api, "/v1/approvals", status="pending")] == [
            request["id"]
        ]

        ok = await api.post(f"{decide}/approve", json={"note": "validé"}, headers=bob)
        assert ok.status_code == 200, ok.text
        assert (ok.json()["status"], ok.json()["checker"]) == ("approved", "op-bob")
        again = await api.post(f"{decide}/approve", json={"note": "bis"}, headers=bob)
        assert again.status_code == 409

        # A second, by line, for what is left of the invoice.
        left = total - Decimal("100.00")
        second = await api.post(
            path, json={"lines": [{"line": 1, "amount_ttc": str(left)}], "reason": "doublon"}
        )
        assert second.status_code == 202, second.text
        # A third request while the second is pending: accepted now, refused when approved.
        third = await api.post(path, json={"amount_ttc": "0.01", "reason": "arrondi"})
        assert third.status_code == 202
        r = await api.post(
            f"/v1/approvals/{second.json()['id']}/approve", json={"note": "validé"}, headers=bob
        )
        assert r.status_code == 200, r.text
        over = await api.post(
            f"/v1/approvals/{third.json()['id']}/approve", json={"note": "validé"}, headers=bob
        )
        assert over.status_code == 422
        assert over.json()["type"].endswith("/problems/credit-exceeds-invoice")
        refused = await api.post(path, json={"amount_ttc": "0.01", "reason": "encore"})
        assert refused.status_code == 422
        rejected = await api.post(
            f"/v1/approvals/{third.json()['id']}/reject", json={"note": "déjà crédité"}, headers=bob
        )
        assert rejected.json()["status"] == "rejected"

        notes = await _list(api, "/v1/credit-notes", contract_id=act.contract_id)
        assert [n["total_ttc"] for n in notes] == ["100.00", f"{left:.2f}"]
        assert sum(Decimal(n["total_ttc"]) for n in notes) == total  # never more
        # B6: the A series has no gap.
        sequences = [int(n["number"].split("-")[1]) for n in notes]
        assert all(n["number"].startswith("A2026-") for n in notes)
        assert sequences == list(range(sequences[0], sequences[0] + len(notes)))
        for n in notes:
            assert n["invoice_id"] == inv["id"]
            await check_document(api, n, schematron, s)  # XSD + EN 16931 schematron + PDF/A

        # Paid by cheque: each credit note is owed back as a manual refund, recorded once sent.
        refunds = await _list(api, f"/v1/invoices/{inv['id']}/refunds")
        assert sorted((r["amount"], r["method"], r["status"]) for r in refunds) == sorted(
            [("100.00", "manual", "pending"), (f"{left:.2f}", "manual", "pending")]
        )
        rec = f"/v1/refunds/{refunds[0]['id']}/record"
        body = {"paid_by": "bank_transfer", "paid_on": "2026-02-01", "reference": "VIR-R1"}
        done = await api.post(rec, json=body)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "succeeded"
        assert (await api.post(rec, json=body)).status_code == 409
        (refunded,) = await collect_events(s.nats_url, "payment.refunded", 1)
        assert refunded.amount == refunds[0]["amount"]

        history = [h["action"] for h in await _list(api, f"/v1/invoices/{inv['id']}/history")]
        assert history == [
            "invoice.issued",  # by the contract.activated that caused it (O3)
            "payment.recorded",
            "correction.requested",
            "correction.approved",
            "correction.requested",
            "correction.requested",
            "correction.approved",
            "correction.rejected",
        ]
        # both lists page by cursor, oldest first, each row once
        for path, rows in (("history", history), ("refunds", [r["id"] for r in refunds])):
            paged: list[str] = []
            cursor: str | None = None
            while True:
                page = await api.get(
                    f"/v1/invoices/{inv['id']}/{path}",
                    params={"limit": 1, **({"cursor": cursor} if cursor else {})},
                )
                assert page.status_code == 200, page.text
                assert len(page.json()["items"]) <= 1
                paged += [
                    row["action"] if path == "history" else row["id"]
                    for row in page.json()["items"]
                ]
                cursor = page.json()["next_cursor"]
                if cursor is None:
                    break
            assert paged == rows, path
            bad = await api.get(f"/v1/invoices/{inv['id']}/{path}", params={"cursor": "!"})
            assert bad.status_code == 422
            assert bad.json()["type"].endswith("/invalid-cursor")
        issued = await collect_events(s.nats_url, "credit_note.issued", 2)
        assert {e.invoice_number for e in issued} == {inv["number"]}


async def test_a_card_paid_invoice_is_refunded_through_stripe(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: stripe.StripeClient,
    make_token: Callable[..., str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    s = stripe_settings
    alice = _as(make_token, "op-alice")
    bob = _as(make_token, "op-bob")
    async with billing(s, stripe_sandbox, alice) as (api, _control):
        act = activated(postes=8, start=date(2026, 3, 15))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        si = await _stripe_invoice(stripe_client, wait_for, inv["id"])
        await stripe_client.v1.invoices.pay_async(si.id, {"payment_method": "pm_card_visa"})
        await _status(api, wait_for, inv["id"], "paid")

        r = await api.post(
            f"/v1/invoices/{inv['id']}/credit-notes",
            json={"amount_ttc": "340.80", "reason": "geste commercial"},
        )
        assert r.status_code == 202, r.text
        ok = await api.post(
            f"/v1/approvals/{r.json()['id']}/approve", json={"note": "accord"}, headers=bob
        )
        assert ok.status_code == 200, ok.text
        (refunded,) = await collect_events(s.nats_url, "payment.refunded", 1, timeout=20)
        assert refunded.amount == "340.80"
        refunds = await stripe_client.v1.refunds.list_async({"payment_intent": si.payment_intent})
        assert [x.amount for x in refunds.data] == [34080]
        (mine,) = await _list(api, f"/v1/invoices/{inv['id']}/refunds")
        assert (mine["method"], mine["status"]) == ("stripe", "succeeded")


async def _list(api: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    r = await api.get(path, params={k: str(v) for k, v in params.items()})
    assert r.status_code == 200, r.text
    body = r.json()
    return list(body["items"])
