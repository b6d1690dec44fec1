"""Customers, events filters, deletions, refused parameters, in-process use of create_app."""

from __future__ import annotations

import httpx
import pytest
import stripe
from prisme_stripe_sandbox import create_app

from .conftest import Factory, Receiver, eventually


async def test_customer_update_and_delete_emit_events(
    client: stripe.StripeClient, factory: Factory, receiver: Receiver
) -> None:
    cus = await factory.customer(metadata={"a": "1", "b": "2"})
    updated = await client.v1.customers.update_async(
        cus.id, params={"name": "Cabinet Payet", "metadata": {"b": ""}}
    )
    assert (updated.name, updated.metadata.to_dict()) == ("Cabinet Payet", {"a": "1"})
    event = (await eventually(lambda: receiver.of_type("customer.updated")))[0]
    assert event.data.previous_attributes["name"] == "Cabinet Hoarau"
    with pytest.raises(stripe.InvalidRequestError):  # the default PM must be attached to them
        await client.v1.customers.update_async(
            cus.id, params={"invoice_settings": {"default_payment_method": "pm_card_visa"}}
        )
    assert (await client.v1.customers.retrieve_async(cus.id)).name == "Cabinet Payet"
    deleted = await client.v1.customers.delete_async(cus.id)
    assert deleted.deleted is True
    await eventually(lambda: receiver.of_type("customer.deleted"))
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.invoices.create_async(params={"customer": cus.id})


async def test_draft_invoice_delete_releases_its_items(
    client: stripe.StripeClient, factory: Factory
) -> None:
    cus = await factory.customer()
    draft = await factory.draft_invoice(cus.id, amounts=(1500,))
    assert (await client.v1.invoices.delete_async(draft.id)).deleted is True
    pending = await client.v1.invoice_items.list_async(params={"customer": cus.id, "pending": True})
    assert [i.amount for i in pending.data] == [1500]
    opened = await factory.open_invoice(cus.id, amounts=(10,))
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.invoices.delete_async(opened.id)


async def test_amount_changing_parameters_are_refused_not_ignored(
    client: stripe.StripeClient, factory: Factory
) -> None:
    cus = await factory.customer()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.invoice_items.create_async(
            params={"customer": cus.id, "amount": 100, "currency": "eur", "tax_rates": ["txr_1"]}
        )
    assert caught.value.param == "tax_rates"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.invoices.create_async(
            params={"customer": cus.id, "automatic_tax": {"enabled": True}}
        )
    inv = await client.v1.invoices.create_async(
        params={
            "customer": cus.id,
            "automatic_tax": {"enabled": False},
            "statement_descriptor": "X",
        }
    )
    assert inv.status == "draft"
    assert (await client.v1.invoice_items.list_async(params={"customer": cus.id})).data == []


async def test_event_filters_for_reconciliation(
    client: stripe.StripeClient, factory: Factory
) -> None:
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id)
    await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})
    first = (await client.v1.events.list_async(params={"limit": 100})).data[-1]
    since = await client.v1.events.list_async(
        params={
            "types": ["invoice.paid", "invoice.payment_failed"],
            "created": {"gte": first.created},
        }
    )
    assert [e.type for e in since.data] == ["invoice.paid"]
    later = await client.v1.events.list_async(params={"created": {"gt": first.created + 3600}})
    assert later.data == []


async def test_drop_next_webhooks_drops_only_that_many(
    factory: Factory, receiver: Receiver, control: httpx.AsyncClient
) -> None:
    await control.post("/_sandbox/switches", json={"drop_next_webhooks": 1})
    await factory.customer(email="dropped@example.re")
    await factory.customer(email="kept@example.re")
    got = await eventually(lambda: receiver.of_type("customer.created"))
    assert [e.data.object.email for e in got] == ["kept@example.re"]


async def test_create_app_in_process_over_asgi() -> None:
    app = create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stripe") as c:
        r = await c.post(
            "/v1/customers", auth=("sk_test_inproc", ""), data={"email": "in@example.re"}
        )
        assert r.status_code == 200
        sandbox = app.state.sandbox
        assert sandbox.store.get("customer", r.json()["id"])["email"] == "in@example.re"
        assert [e["type"] for e in sandbox.store.all("event")] == ["customer.created"]
