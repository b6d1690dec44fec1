"""B5/B8/R3 through the Stripe stand-in: the real SDK code path, signed webhooks, worker."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
import stripe
from prisme_billing import stripe_calls, stripe_jobs
from prisme_billing.app import build_app
from prisme_billing.settings import BillingSettings
from prisme_billing.stripe_client import make_client, metadata
from prisme_chassis import jobs
from prisme_chassis.db import create_pool
from prisme_events import Address, ClientCorrected
from prisme_stripe_sandbox import SandboxServer
from prisme_testing.plugin import collect_events, publish_event, start_service

Wait = Callable[..., Awaitable[Any]]


@asynccontextmanager
async def billing(
    settings: BillingSettings, sb: SandboxServer, headers: dict[str, str]
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """billing-svc running, with the sandbox's webhook endpoint pointed at it."""
    async with (
        start_service(build_app(settings), headers=headers) as api,
        httpx.AsyncClient(base_url=sb.url) as control,
    ):
        r = await control.put(
            "/_sandbox/webhook",
            json={
                "url": f"{str(api.base_url).rstrip('/')}/v1/webhooks/stripe",
                "secret": settings.webhook_secret(),
            },
        )
        assert r.status_code == 200, r.text
        yield api, control


async def _invoice(
    api: httpx.AsyncClient, wait_for: Wait, contract_id: uuid.UUID
) -> dict[str, Any]:
    async def get() -> list[Any]:
        return list(
            (await api.get("/v1/invoices", params={"contract_id": str(contract_id)})).json()[
                "items"
            ]
        )

    (inv,) = await wait_for(get)
    return dict(inv)


async def _stripe_invoice(client: stripe.StripeClient, wait_for: Wait, doc_id: str) -> Any:
    async def find() -> Any:
        page = await client.v1.invoices.list_async({"limit": 100})
        mine = [i for i in page.data if metadata(i).get("prisme_document_id") == doc_id]
        assert len(mine) <= 1, "one Stripe invoice per document"
        return mine[0] if mine and mine[0].status == "open" else None

    return await wait_for(find)


async def _status(
    api: httpx.AsyncClient, wait_for: Wait, inv_id: str, status: str
) -> dict[str, Any]:
    async def get() -> Any:
        body = (await api.get(f"/v1/invoices/{inv_id}")).json()
        return body if body["status"] == status else None

    return dict(await wait_for(get))


async def test_card_payment_and_refund_after_cessation(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: stripe.StripeClient,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    ended: Callable[..., Any],
    wait_for: Wait,
) -> None:
    s = stripe_settings
    async with billing(s, stripe_sandbox, auth_headers) as (api, _control):
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        si = await _stripe_invoice(stripe_client, wait_for, inv["id"])
        assert si.collection_method == "send_invoice"
        assert si.amount_due == 348000
        assert set(si.payment_settings.payment_method_types) == {"card", "sepa_debit"}
        customer = await stripe_client.v1.customers.retrieve_async(si.customer)
        assert customer.email == act.client.manager.email

        await stripe_client.v1.invoices.pay_async(si.id, {"payment_method": "pm_card_visa"})
        paid = await _status(api, wait_for, inv["id"], "paid")
        assert paid["amount_paid"] == "3480.00"
        (event,) = await collect_events(s.nats_url, "invoice.paid", 1)
        assert event.method == "card"

        # B5: cessation on 30 June → credit note 1754.30, refunded on the card.
        await publish_event(s.nats_url, ended(act, date(2026, 6, 30), version=3))
        (refunded,) = await collect_events(s.nats_url, "payment.refunded", 1, timeout=20)
        assert refunded.amount == "1754.30"
        refunds = await stripe_client.v1.refunds.list_async({"payment_intent": si.payment_intent})
        assert [r.amount for r in refunds.data] == [175430]
        state = (await api.get(f"/v1/contracts/{act.contract_id}/billing")).json()
        assert state["payment_status"] == "refunded"
        assert (state["total_invoiced"], state["total_paid"]) == ("3480.00", "3480.00")
        assert (state["total_credited"], state["total_refunded"]) == ("1754.30", "1754.30")
        assert state["contract_status"] == "ended"
        # The refund's own webhooks (refund.created, charge.refunded) have no second effect.
        await wait_for(lambda: _all_processed(s))
        assert len(await collect_events(s.nats_url, "payment.refunded", 2, timeout=1)) == 1
        backlog = (await api.get("/v1/stripe/backlog")).json()
        assert backlog == {
            "jobs_pending": 0,
            "jobs_failed": 0,
            "webhooks_pending": 0,
            "webhooks_failed": 0,
        }


async def _all_processed(s: BillingSettings) -> bool:
    conn = await asyncpg.connect(s.database_url)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM job_queue WHERE kind LIKE 'billing.stripe%'"
            " AND state <> 'succeeded'"
        ) + await conn.fetchval("SELECT count(*) FROM stripe_events WHERE processed_at IS NULL")
        return bool(left == 0)
    finally:
        await conn.close()


async def test_sepa_pending_then_paid_and_failed_payment(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: stripe.StripeClient,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    s = stripe_settings
    async with billing(s, stripe_sandbox, auth_headers) as (api, control):
        sepa = activated(postes=7, start=date(2026, 1, 1))
        card = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, sepa)
        await publish_event(s.nats_url, card)
        inv_sepa = await _invoice(api, wait_for, sepa.contract_id)
        inv_card = await _invoice(api, wait_for, card.contract_id)
        si_sepa = await _stripe_invoice(stripe_client, wait_for, inv_sepa["id"])
        si_card = await _stripe_invoice(stripe_client, wait_for, inv_card["id"])

        # SEPA: processing while the debit is pending, paid once it settles.
        await stripe_client.v1.invoices.pay_async(si_sepa.id, {"payment_method": "pm_sepa_debit"})
        await wait_for(lambda: _all_processed(s))
        assert (await api.get(f"/v1/invoices/{inv_sepa['id']}")).json()["status"] == "open"
        assert (await control.post(f"/_sandbox/payments/{si_sepa.id}/settle")).status_code == 200
        await _status(api, wait_for, inv_sepa["id"], "paid")

        # A declined card: payment_failed, then paid by a later attempt.
        await control.post("/_sandbox/switches", json={"decline_next_payments": 1})
        with pytest.raises(stripe.CardError):
            await stripe_client.v1.invoices.pay_async(
                si_card.id, {"payment_method": "pm_card_visa"}
            )
        await _status(api, wait_for, inv_card["id"], "payment_failed")
        state = (await api.get(f"/v1/contracts/{card.contract_id}/billing")).json()
        assert state["payment_status"] == "payment_failed"
        await stripe_client.v1.invoices.pay_async(si_card.id, {"payment_method": "pm_card_visa"})
        await _status(api, wait_for, inv_card["id"], "paid")

        events = await collect_events(s.nats_url, ["invoice.paid", "invoice.payment_failed"], 3)
        methods = sorted(getattr(e, "method", e.subject) for e in events)
        assert methods == ["card", "invoice.payment_failed", "sepa_debit"]


async def test_forged_unsigned_stale_and_replayed_webhooks(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: stripe.StripeClient,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    s = stripe_settings
    async with billing(s, stripe_sandbox, auth_headers) as (api, control):
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        si = await _stripe_invoice(stripe_client, wait_for, inv["id"])
        await stripe_client.v1.invoices.pay_async(si.id, {"payment_method": "pm_card_visa"})
        await _status(api, wait_for, inv["id"], "paid")
        await wait_for(lambda: _all_processed(s))
        (paid_event,) = (await stripe_client.v1.events.list_async({"type": "invoice.paid"})).data

        async def outcomes(kind: dict[str, Any], attempts: int) -> set[int]:
            """Redeliver the paid event with ``kind`` overrides; the status codes we answered
            (a refused delivery is retried by the sandbox: wait for all its attempts)."""
            log = "/_sandbox/deliveries"
            before = len(
                (await control.get(log, params={"event_id": paid_event.id})).json()["data"]
            )
            await control.post(f"/_sandbox/events/{paid_event.id}/redeliver", json=kind)

            async def done() -> Any:
                rows = (await control.get(log, params={"event_id": paid_event.id})).json()["data"]
                return rows[before:] if len(rows) >= before + attempts else None

            return {row["status_code"] for row in await wait_for(done)}

        retries = 1 + 3  # the sandbox's first attempt and its retry_delays
        assert await outcomes({"secret": "whsec_forged"}, retries) == {400}
        assert await outcomes({"unsigned": True}, retries) == {400}
        assert await outcomes({"timestamp": int(time.time()) - 3600}, retries) == {400}
        assert await outcomes({}, 1) == {200}  # a replay: accepted, stored once, no second effect
        body = b'{"id": "evt_x", "type": "invoice.paid", "data": {"object": {"id": "in_x"}}}'
        r = await api.post("/v1/webhooks/stripe", content=body)
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        r = await api.post(
            "/v1/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=00"}
        )
        assert r.status_code == 400

        await wait_for(lambda: _all_processed(s))
        conn = await asyncpg.connect(s.database_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM payments") == 1
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM stripe_events WHERE event_id = $1", paid_event.id
                )
                == 1
            )
        finally:
            await conn.close()
        assert len(await collect_events(s.nats_url, "invoice.paid", 2, timeout=1)) == 1
        assert (await api.get(f"/v1/invoices/{inv['id']}")).json()["amount_paid"] == "3480.00"


async def test_missed_webhooks_are_caught_by_reconciliation(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: stripe.StripeClient,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    s = stripe_settings
    async with billing(s, stripe_sandbox, auth_headers) as (api, control):
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        si = await _stripe_invoice(stripe_client, wait_for, inv["id"])
        await control.post("/_sandbox/switches", json={"drop_webhooks": True})
        await stripe_client.v1.invoices.pay_async(si.id, {"payment_method": "pm_card_visa"})
        await wait_for(lambda: _all_processed(s))
        assert (await api.get(f"/v1/invoices/{inv['id']}")).json()["status"] == "open"
        r = await api.post("/v1/stripe/reconcile")
        assert r.status_code == 200
        assert r.json()["new_events"] >= 1
        await _status(api, wait_for, inv["id"], "paid")
        again = await api.post("/v1/stripe/reconcile")
        assert again.json()["new_events"] == 0


async def test_a_crash_between_stripe_call_and_commit_never_bills_twice(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: stripe.StripeClient,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    # First the invoice is issued with the worker off: its Stripe job waits in the table.
    off = stripe_settings.model_copy(update={"stripe_enabled": False})
    act = activated(postes=7, start=date(2026, 1, 1))
    async with start_service(build_app(off), headers=auth_headers) as api:
        await publish_event(off.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        assert (await api.get("/v1/stripe/backlog")).json()["jobs_pending"] == 1

    client = make_client(stripe_settings)
    conn = await asyncpg.connect(off.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT * FROM job_queue WHERE kind = $1", stripe_jobs.PUSH_INVOICE.name
        )
    finally:
        await conn.close()
    assert row is not None
    job = jobs.Job(
        id=row["id"],
        kind=row["kind"],
        key=row["idempotency_key"],
        payload=json.loads(row["payload"]),
        attempt=1,
        max_attempts=row["max_attempts"],
        group_key=None,
        serial_key=None,
        last_error=None,
        created_at=row["created_at"],
    )
    pool = await create_pool(off.database_url)
    try:
        # "Crash" 1: the handler made every Stripe call, then the process died before the
        # outcome was recorded (the outcome is dropped: the job is still queued).
        await stripe_calls.push_invoice(pool, client, job)
    finally:
        await pool.close()
    async with httpx.AsyncClient(base_url=stripe_sandbox.url) as control:
        # "Crash" 2: Stripe does the work but the answer is lost in transit (a 500).
        await control.post(
            "/_sandbox/switches",
            json={
                "fail_next_requests": 1,
                "fail_mode": "after",
                "fail_status": 500,
                "fail_path_prefix": "/v1/invoices",
            },
        )
        # Then the service's worker runs the job until done.
        async with start_service(build_app(stripe_settings), headers=auth_headers) as api:
            await wait_for(lambda: _all_processed(stripe_settings))
            backlog = (await api.get("/v1/stripe/backlog")).json()
            listed = (await api.get("/v1/jobs", params={"state": "succeeded"})).json()["items"]
        log = (await control.get("/_sandbox/requests")).json()["data"]
    (lost,) = [r for r in log if r["injected"]]
    assert lost["path"] == "/v1/invoices"
    # The SDK's network retry (or the job's) reused our key: Stripe replayed, not re-created.
    assert any(r["replayed"] and r["idempotency_key"] == lost["idempotency_key"] for r in log)
    assert lost["idempotency_key"] == f"invoice:{inv['id']}:create"
    assert backlog["jobs_pending"] == 0
    assert [j["key"] for j in listed] == [f"invoice:{inv['id']}:push"]
    page = await stripe_client.v1.invoices.list_async({"limit": 100})
    mine = [i for i in page.data if metadata(i).get("prisme_document_id") == inv["id"]]
    assert len(mine) == 1
    assert mine[0].status == "open"
    assert mine[0].amount_due == 382800
    items = await stripe_client.v1.invoice_items.list_async({"invoice": mine[0].id})
    assert len(items.data) == 1
    customers = await stripe_client.v1.customers.list_async({"limit": 100})
    assert len(customers.data) == 1


async def test_manual_payment_closes_the_stripe_invoice_without_double_counting(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: stripe.StripeClient,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    s = stripe_settings
    async with billing(s, stripe_sandbox, auth_headers) as (api, _control):
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        si = await _stripe_invoice(stripe_client, wait_for, inv["id"])
        r = await api.post(
            f"/v1/invoices/{inv['id']}/payments",
            json={"method": "bank_transfer", "amount": "3480.00", "paid_on": "2026-01-20"},
        )
        assert r.status_code == 201, r.text

        async def closed() -> bool:
            current = await stripe_client.v1.invoices.retrieve_async(si.id)
            return current.status == "paid"

        await wait_for(closed)
        await wait_for(lambda: _all_processed(s))
        body = (await api.get(f"/v1/invoices/{inv['id']}")).json()
        assert (body["status"], body["amount_paid"]) == ("paid", "3480.00")
        assert len(await collect_events(s.nats_url, "invoice.paid", 2, timeout=1)) == 1


async def test_duplicated_and_reordered_webhooks_leave_one_outcome(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: stripe.StripeClient,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    """B8: a declined attempt then a success, delivered twice each and newest first: the
    invoice ends paid, with one payment, and no failure recorded after the success."""
    s = stripe_settings
    async with billing(s, stripe_sandbox, auth_headers) as (api, control):
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        si = await _stripe_invoice(stripe_client, wait_for, inv["id"])
        await control.post(
            "/_sandbox/switches",
            json={"hold_webhooks": True, "duplicate_webhooks": True, "decline_next_payments": 1},
        )
        with pytest.raises(stripe.CardError):
            await stripe_client.v1.invoices.pay_async(si.id, {"payment_method": "pm_card_visa"})
        await stripe_client.v1.invoices.pay_async(si.id, {"payment_method": "pm_card_visa"})
        await control.post("/_sandbox/switches", json={"hold_webhooks": False})
        released = await control.post("/_sandbox/webhooks/release", json={"order": "reverse"})
        assert released.status_code == 200
        await _status(api, wait_for, inv["id"], "paid")
        await wait_for(lambda: _all_processed(s))
        conn = await asyncpg.connect(s.database_url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM payments") == 1
            assert await conn.fetchval("SELECT count(*) FROM payment_failures") == 0
            dupes = await conn.fetchval(
                "SELECT count(*) FROM stripe_events GROUP BY event_id ORDER BY 1 DESC LIMIT 1"
            )
            assert dupes == 1
            # R5: no Stripe secret in any of our tables.
            dump = await conn.fetchval(
                "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM stripe_events) t"
            )
            for table in ("job_queue", "clients", "payments", "documents"):
                dump += str(await conn.fetch(f"SELECT * FROM {table}"))  # noqa: S608
        finally:
            await conn.close()
        assert s.stripe_key() not in dump
        assert s.webhook_secret() not in dump
        body = (await api.get(f"/v1/invoices/{inv['id']}")).json()
        assert (body["status"], body["amount_paid"]) == ("paid", "3480.00")
        assert len(await collect_events(s.nats_url, "invoice.paid", 2, timeout=1)) == 1


async def test_a_stripe_outage_loses_no_received_event(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: stripe.StripeClient,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    """B8: Stripe down for a long while (back-off compressed by the test's settings: 0.2 s
    doubling to 2 s): the received event is stored at once, its processing is retried with
    back-off (never 20 immediate tries and lost), and it is applied once Stripe is back."""
    s = stripe_settings
    async with billing(s, stripe_sandbox, auth_headers) as (api, control):
        act = activated(postes=6, start=date(2026, 1, 1))
        await publish_event(s.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        si = await _stripe_invoice(stripe_client, wait_for, inv["id"])
        await control.post("/_sandbox/switches", json={"hold_webhooks": True})
        await stripe_client.v1.invoices.pay_async(si.id, {"payment_method": "pm_card_visa"})
        # Stripe's API goes down; its webhooks still reach us (they were sent before).
        outage = {"fail_next_requests": 1_000_000, "fail_status": 503, "fail_path_prefix": "/v1/"}
        await control.post("/_sandbox/switches", json=outage)
        await control.post("/_sandbox/switches", json={"hold_webhooks": False})
        released = await control.post("/_sandbox/webhooks/release", json={"order": "fifo"})
        assert released.json()["released"] >= 1

        conn = await asyncpg.connect(s.database_url)
        try:

            async def event_job() -> asyncpg.Record | None:
                row = await conn.fetchrow(
                    "SELECT j.* FROM job_queue j JOIN stripe_events e"
                    " ON j.idempotency_key = 'stripe_event:' || e.event_id"
                    " WHERE e.type = 'invoice.paid'"
                )
                return row if row is not None and row["attempts"] >= 5 else None

            # Far more failed runs than the old worker's 20 immediate tries would have taken
            # time for; the job is still queued, backing off, with Stripe's error recorded.
            during = await wait_for(event_job, timeout=60)
            assert during["state"] in ("queued", "running")
            assert "503" in during["last_error"] or "APIError" in during["last_error"]
            assert during["max_attempts"] == 20
            assert (await api.get(f"/v1/invoices/{inv['id']}")).json()["status"] == "open"
            backlog = (await api.get("/v1/stripe/backlog")).json()
            stored = await conn.fetchval("SELECT count(*) FROM stripe_events")
            assert stored >= 1  # invoice.paid and invoice.payment_succeeded
            assert (backlog["webhooks_pending"], backlog["webhooks_failed"]) == (stored, 0)

            await control.post("/_sandbox/switches", json={"fail_next_requests": 0})
            await _status(api, wait_for, inv["id"], "paid")
            await wait_for(lambda: _all_processed(s), timeout=30)
            after = await conn.fetchrow("SELECT * FROM job_queue WHERE id = $1", during["id"])
            assert after["state"] == "succeeded"
            assert after["attempts"] >= during["attempts"]
            assert await conn.fetchval("SELECT count(*) FROM payments") == 1
        finally:
            await conn.close()
        log = (await control.get("/_sandbox/requests")).json()["data"]
        assert sum(1 for r in log if r["injected"]) >= 5
        assert len(await collect_events(s.nats_url, "invoice.paid", 2, timeout=1)) == 1


async def test_a_corrected_identity_reaches_the_stripe_customer(
    stripe_settings: BillingSettings,
    stripe_sandbox: SandboxServer,
    stripe_client: stripe.StripeClient,
    auth_headers: dict[str, str],
    activated: Callable[..., Any],
    wait_for: Wait,
) -> None:
    """C8: PATCH of a client in contracts-svc → client.corrected → Stripe customer updated."""
    async with billing(stripe_settings, stripe_sandbox, auth_headers) as (api, _):
        act = activated(postes=6, start=date(2026, 3, 1), version=2)
        await publish_event(stripe_settings.nats_url, act)
        inv = await _invoice(api, wait_for, act.contract_id)
        si = await _stripe_invoice(stripe_client, wait_for, inv["id"])
        customer_id = si.customer
        moved = act.client.model_copy(
            update={
                "name": "Cabinet médical du Port",
                "address": Address(line1="1 quai Ouest", postal_code="97420", city="Le Port"),
            }
        )
        await publish_event(
            stripe_settings.nats_url,
            ClientCorrected(client=moved, version=1, changed=["address.city", "name"]),
        )

        async def renamed() -> Any:
            customer = await stripe_client.v1.customers.retrieve_async(customer_id)
            return customer if customer.name == "Cabinet médical du Port" else None

        customer = await wait_for(renamed)
        assert customer.email == act.client.manager.email
