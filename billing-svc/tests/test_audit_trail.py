"""O3: every mutating route of billing-svc writes its audit row on the chassis' trail (the
price book, payments, corrections and their four-eyes decisions, refunds, reconciliation),
and billing's own trail from before the move is still there after it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import prisme_billing
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_billing.stripe_client import metadata
from prisme_chassis.db import CHASSIS_MIGRATIONS, connect, migrate
from prisme_stripe_sandbox import SandboxServer
from prisme_testing.audit import Call, Example, assert_mutations_audited
from prisme_testing.plugin import publish_event, start_service

from .test_stripe import _invoice, billing

Wait = Callable[..., Awaitable[Any]]
MIGRATIONS = Path(prisme_billing.__file__).parent / "migrations"

NOT_AUDITED = {
    "POST /v1/webhooks/stripe": (
        "Stripe's own call, no operator: signature-verified and stored once by its event id in "
        "webhook_events, processed by a job"
    ),
}


def _bearer(make_token: Callable[..., str], sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(sub=sub)}"}


async def test_every_mutating_route_writes_an_audit_row(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    make_token: Callable[..., str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    s = stripe_settings
    bob = _bearer(make_token, "op-bob")
    async with billing(s, stripe_sandbox, _bearer(make_token, "op-alice")) as (api, _control):

        async def invoice() -> dict[str, Any]:
            act = activated(postes=4, start=date(2026, 1, 1))
            await publish_event(s.nats_url, act)
            return await _invoice(api, wait_for, act.contract_id)

        async def payment(_: httpx.AsyncClient) -> Call:
            inv = await invoice()
            body = {"method": "cheque", "amount": "10.00", "paid_on": "2026-01-20"}
            return Call(f"/v1/invoices/{inv['id']}/payments", json=body)

        async def correction(_: httpx.AsyncClient, inv: dict[str, Any] | None = None) -> Call:
            inv = inv or await invoice()
            body = {"amount_ttc": "1.00", "reason": "remise"}
            return Call(f"/v1/invoices/{inv['id']}/credit-notes", json=body)

        async def decision(then: str, inv: dict[str, Any] | None = None) -> Call:
            call = await correction(api, inv)
            r = await api.post(call.path, json=call.json)
            assert r.status_code == 202, r.text
            return Call(
                f"/v1/approvals/{r.json()['id']}/{then}",
                json={"note": "validé"},
                headers=bob,
                sub="op-bob",
            )

        async def approve(_: httpx.AsyncClient) -> Call:
            return await decision("approve")

        async def reject(_: httpx.AsyncClient) -> Call:
            return await decision("reject")

        async def refund(_: httpx.AsyncClient) -> Call:
            inv = await invoice()
            paid = await api.post(
                f"/v1/invoices/{inv['id']}/payments",
                json={"method": "cheque", "amount": inv["total_ttc"], "paid_on": "2026-01-20"},
            )
            assert paid.status_code == 201, paid.text
            call = await decision("approve", inv)
            r = await api.post(call.path, json=call.json, headers=dict(call.headers))
            assert r.status_code == 200, r.text
            (pending,) = (await api.get(f"/v1/invoices/{inv['id']}/refunds")).json()["items"]
            body = {"paid_by": "bank_transfer", "paid_on": "2026-02-01", "reference": "VIR-1"}
            return Call(f"/v1/refunds/{pending['id']}/record", json=body)

        async def price_book(_: httpx.AsyncClient) -> Call:
            book = (await api.get("/v1/price-book")).json()
            prices = [
                {
                    k: p[k]
                    for k in (
                        "offer",
                        "level",
                        "label",
                        "base_ttc",
                        "included_postes",
                        "extra_poste_ttc",
                    )
                }
                for p in book["prices"]
            ]
            prices[0]["label"] += " (révisé)"
            return Call("/v1/price-book", json={"prices": prices, "reason": "révision"})

        async def price_items(_: httpx.AsyncClient) -> Call:
            items = (await api.get("/v1/price-book/items")).json()
            body = [{k: i[k] for k in ("code", "label", "unit", "unit_ttc")} for i in items]
            body.append(
                {"code": "walk_item", "label": "Forfait", "unit": "forfait", "unit_ttc": "5.00"}
            )
            return Call("/v1/price-book/items", json={"items": body, "reason": "révision"})

        async def send_invoice(_: httpx.AsyncClient) -> Call:
            return Call(f"/v1/invoices/{(await invoice())['id']}/send")

        async def send_credit_note(_: httpx.AsyncClient) -> Call:
            inv = await invoice()
            call = await decision("approve", inv)
            r = await api.post(call.path, json=call.json, headers=dict(call.headers))
            assert r.status_code == 200, r.text
            (note,) = (
                await api.get("/v1/credit-notes", params={"contract_id": inv["contract_id"]})
            ).json()["items"]
            return Call(f"/v1/credit-notes/{note['id']}/send")

        examples: dict[str, Example] = {
            "POST /v1/invoices/{invoice_id}/send": send_invoice,
            "POST /v1/credit-notes/{note_id}/send": send_credit_note,
            "POST /v1/invoices/{invoice_id}/payments": payment,
            "POST /v1/invoices/{invoice_id}/credit-notes": correction,
            "POST /v1/approvals/{approval_id}/approve": approve,
            "POST /v1/approvals/{approval_id}/reject": reject,
            "POST /v1/refunds/{refund_id}/record": refund,
            "PUT /v1/price-book": price_book,
            "PUT /v1/price-book/items": price_items,
            "POST /v1/stripe/reconcile": Call("/v1/stripe/reconcile"),
        }
        report = await assert_mutations_audited(api, examples, NOT_AUDITED, sub="op-alice")
        assert sorted(report.audited) == sorted(examples)
        # O2: a price-book change is a request (audited with the exact change); it is written,
        # and audited again with the book before and after, when another operator approves
        (asked,) = (
            await api.get("/v1/audit", params={"action": "price_book.change_requested"})
        ).json()["items"]
        assert asked["after"]["prices"][0]["label"].endswith("(révisé)")


async def test_billings_old_trail_is_moved_onto_the_chassis_trail(
    billing_settings: BillingSettings, make_token: Callable[..., str], tmp_path: Path
) -> None:
    dsn = billing_settings.database_url
    before_move = tmp_path / "migrations"
    before_move.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name < "010":
            (before_move / path.name).write_text(path.read_text())
    invoice_id = uuid.uuid4()
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    conn = await connect(dsn)
    try:
        await migrate(conn, "chassis", CHASSIS_MIGRATIONS)
        await migrate(conn, "billing-svc", before_move)
        await conn.execute(
            "INSERT INTO audit_log (at, actor, actor_name, action, target_type, target_id,"
            " reason, source, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            at,
            "op-carole",
            "Carole Técher",
            "payment.recorded",
            "invoice",
            invoice_id,
            None,
            "10.0.0.4",
            {"method": "cheque", "amount": "12.00"},
        )
    finally:
        await conn.close()
    headers = _bearer(make_token, "op-alice")
    async with start_service(build_app(billing_settings), headers=headers) as api:
        history = (await api.get(f"/v1/invoices/{invoice_id}/history")).json()["items"]
        assert [(h["action"], h["actor"], h["actor_name"]) for h in history] == [
            ("payment.recorded", "op-carole", "Carole Técher")
        ]
        assert history[0]["detail"] == {"method": "cheque", "amount": "12.00"}
        (moved,) = (await api.get("/v1/audit", params={"target": str(invoice_id)})).json()["items"]
        assert moved["address"] == "10.0.0.4"
        assert moved["at"].startswith("2026-03-01T09:00:00")


async def test_what_events_and_stripe_change_is_audited_by_them(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: Any,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    ended: Callable[..., Any],
    wait_for: Wait,
) -> None:
    """O3 beyond the routes: the invoice issued on contract.activated, the payment Stripe
    reports, the credit note of a cessation and its refund each have their row, by the event
    (``event:<type>``, its id as request id) or by Stripe (``system:stripe``)."""
    s, client = stripe_settings, stripe_client
    async with billing(s, stripe_sandbox, auth_headers) as (api, _control):
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)

        async def rows(action: str, n: int = 1) -> list[dict[str, Any]] | None:
            got = (await api.get("/v1/audit", params={"action": action})).json()["items"]
            return got if len(got) >= n else None

        (issued,) = await wait_for(lambda: rows("invoice.issued"))
        assert (issued["actor"], issued["request_id"]) == (
            "event:contract.activated",
            str(act.event_id),
        )
        assert (issued["target_id"], issued["client_id"]) == (inv["id"], str(act.client_id))
        assert issued["detail"]["number"] == inv["number"]
        assert issued["detail"]["total_ttc"] == "3480.00"

        async def stripe_invoice() -> Any:
            page = await client.v1.invoices.list_async({"limit": 100})
            mine = [i for i in page.data if metadata(i).get("prisme_document_id") == inv["id"]]
            return mine[0] if mine and mine[0].status == "open" else None

        si = await wait_for(stripe_invoice)
        await client.v1.invoices.pay_async(si.id, {"payment_method": "pm_card_visa"})
        (paid,) = await wait_for(lambda: rows("payment.received"))
        assert (paid["actor"], paid["target_id"]) == ("system:stripe", inv["id"])
        assert paid["request_id"].startswith("evt_")
        assert (paid["detail"]["amount"], paid["detail"]["method"]) == ("3480.00", "card")

        end = ended(act, date(2026, 6, 30), version=3)
        await publish_event(s.nats_url, end)
        (note,) = await wait_for(lambda: rows("credit_note.issued"))
        assert (note["actor"], note["request_id"]) == ("event:contract.ended", str(end.event_id))
        assert (note["reason"], note["detail"]["invoice_number"]) == ("cessation", inv["number"])
        assert note["detail"]["total_ttc"] == "1754.30"
        (refund,) = await wait_for(lambda: rows("refund.succeeded"))
        # settled by the refund job's answer, or by Stripe's webhook when it came first
        assert refund["actor"] in ("system:stripe-refund", "system:stripe")
        assert refund["detail"]["amount"] == "1754.30"
