"""Invoices paid by card and SEPA, declines and refunds, through the official stripe SDK."""

from __future__ import annotations

import httpx
import pytest
import stripe

from .conftest import Factory, Receiver, eventually

pytestmark = pytest.mark.timeout(60)


async def test_card_invoice_created_finalised_and_paid(
    client: stripe.StripeClient, factory: Factory, receiver: Receiver
) -> None:
    cus = await factory.customer(metadata={"prisme_client_id": "c-42"})
    inv = await client.v1.invoices.create_async(
        params={
            "customer": cus.id,
            "collection_method": "charge_automatically",
            "auto_advance": False,
            "payment_settings": {"payment_method_types": ["card", "sepa_debit"]},
            "metadata": {"prisme_invoice_id": "F2026-000001"},
        }
    )
    assert inv.status == "draft"
    assert inv.total == 0
    await client.v1.invoice_items.create_async(
        params={"customer": cus.id, "invoice": inv.id, "amount": 290000, "currency": "eur"}
    )
    await client.v1.invoice_items.create_async(
        params={
            "customer": cus.id,
            "invoice": inv.id,
            "price_data": {"unit_amount": 34800, "currency": "eur", "product": "prod_poste"},
            "quantity": 2,
            "description": "2 postes supplémentaires",
            "metadata": {"line": "2"},
        }
    )
    inv = await client.v1.invoices.finalize_invoice_async(inv.id)
    assert inv.status == "open"
    assert inv.number is not None
    assert (inv.subtotal, inv.total, inv.amount_due) == (359600, 359600, 359600)
    assert [line.amount for line in inv.lines.data] == [290000, 69600]
    assert inv.lines.data[1].quantity == 2
    assert inv.payment_settings.payment_method_types == ["card", "sepa_debit"]

    paid = await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})
    assert paid.status == "paid"
    assert (paid.amount_paid, paid.amount_remaining) == (359600, 0)
    assert paid.status_transitions.paid_at is not None
    charge = await client.v1.charges.retrieve_async(paid.charge)
    assert (charge.status, charge.amount, charge.paid) == ("succeeded", 359600, True)
    assert charge.payment_method_details.type == "card"
    pi = await client.v1.payment_intents.retrieve_async(paid.payment_intent)
    assert (pi.status, pi.latest_charge, pi.invoice) == ("succeeded", charge.id, inv.id)

    await eventually(lambda: receiver.of_type("invoice.payment_succeeded"))
    paid_events = await eventually(lambda: receiver.of_type("invoice.paid"))
    assert paid_events[0].data.object.id == inv.id
    assert paid_events[0].data.object.metadata["prisme_invoice_id"] == "F2026-000001"
    finalized = await eventually(lambda: receiver.of_type("invoice.finalized"))
    assert finalized[0].data.object.status == "open"
    assert receiver.rejected == []


async def test_default_payment_method_and_expand(
    client: stripe.StripeClient, factory: Factory
) -> None:
    cus = await factory.customer(
        payment_method="pm_card_visa",
        invoice_settings={"default_payment_method": "pm_card_visa"},
    )
    pm_id = cus.invoice_settings.default_payment_method
    assert pm_id.startswith("pm_")
    assert pm_id != "pm_card_visa"
    pms = await client.v1.payment_methods.list_async(params={"customer": cus.id, "type": "card"})
    assert [pm.id for pm in pms.data] == [pm_id]

    inv = await factory.open_invoice(cus.id, amounts=(1000,))
    await client.v1.invoices.pay_async(inv.id)
    got = await client.v1.invoices.retrieve_async(
        inv.id, params={"expand": ["customer", "payment_intent.latest_charge"]}
    )
    assert got.customer.id == cus.id
    assert got.payment_intent.latest_charge.payment_method == pm_id


async def test_sepa_payment_pending_then_settled(
    client: stripe.StripeClient,
    factory: Factory,
    receiver: Receiver,
    control: httpx.AsyncClient,
) -> None:
    cus = await factory.customer()
    pm = await client.v1.payment_methods.create_async(
        params={
            "type": "sepa_debit",
            "sepa_debit": {"iban": "FR1420041010050500013M02606"},
            "billing_details": {"name": "Cabinet Hoarau", "email": "cabinet@example.re"},
        }
    )
    await client.v1.payment_methods.attach_async(pm.id, params={"customer": cus.id})
    inv = await factory.open_invoice(cus.id, types=("sepa_debit",), default_payment_method=pm.id)

    pending = await client.v1.invoices.pay_async(inv.id)
    assert pending.status == "open"
    assert pending.amount_paid == 0
    pi = await client.v1.payment_intents.retrieve_async(pending.payment_intent)
    assert pi.status == "processing"
    charge = await client.v1.charges.retrieve_async(pi.latest_charge)
    assert (charge.status, charge.payment_method_details.sepa_debit.last4) == ("pending", "2606")
    await eventually(lambda: receiver.of_type("payment_intent.processing"))
    types = {e.type for e in (await client.v1.events.list_async(params={"limit": 100})).data}
    assert "invoice.paid" not in types

    with pytest.raises(stripe.InvalidRequestError):  # a second debit while one is in flight
        await client.v1.invoices.pay_async(inv.id)

    r = await control.post(f"/_sandbox/payments/{inv.id}/settle")
    assert r.status_code == 200
    assert r.json()["status"] == "paid"
    settled = await client.v1.invoices.retrieve_async(inv.id)
    assert (settled.status, settled.amount_paid) == ("paid", inv.amount_due)
    assert (await client.v1.charges.retrieve_async(charge.id)).status == "succeeded"
    paid = await eventually(lambda: receiver.of_type("invoice.paid"))
    assert paid[0].data.object.id == inv.id


async def test_sepa_payment_fails_then_card_succeeds(
    client: stripe.StripeClient,
    factory: Factory,
    receiver: Receiver,
    control: httpx.AsyncClient,
) -> None:
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id)
    pending = await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_sepa_debit"})
    r = await control.post(
        f"/_sandbox/payments/{pending.payment_intent}/fail",
        json={"failure_code": "debit_not_authorized"},
    )
    assert r.status_code == 200
    failed = await client.v1.invoices.retrieve_async(inv.id)
    assert (failed.status, failed.attempt_count) == ("open", 1)
    pi = await client.v1.payment_intents.retrieve_async(failed.payment_intent)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "debit_not_authorized"
    events = await eventually(lambda: receiver.of_type("invoice.payment_failed"))
    assert events[0].data.object.id == inv.id

    paid = await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})
    assert (paid.status, paid.attempt_count, paid.payment_intent) == ("paid", 2, pi.id)


async def test_declined_card_raises_card_error_and_emits_payment_failed(
    client: stripe.StripeClient, factory: Factory, receiver: Receiver
) -> None:
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id)
    with pytest.raises(stripe.CardError) as caught:
        await client.v1.invoices.pay_async(
            inv.id, params={"payment_method": "pm_card_chargeDeclined"}
        )
    assert caught.value.code == "card_declined"
    assert caught.value.http_status == 402
    assert caught.value.error is not None
    assert caught.value.error.decline_code == "generic_decline"
    after = await client.v1.invoices.retrieve_async(inv.id)
    assert (after.status, after.attempted, after.attempt_count) == ("open", True, 1)
    charge = await client.v1.charges.retrieve_async(after.charge)
    assert (charge.status, charge.failure_code) == ("failed", "card_declined")
    failed = await eventually(lambda: receiver.of_type("invoice.payment_failed"))
    assert failed[0].data.object.id == inv.id
    assert await eventually(lambda: receiver.of_type("charge.failed"))


async def test_payment_method_type_must_be_allowed_by_the_invoice(
    client: stripe.StripeClient, factory: Factory
) -> None:
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id, types=("card",))
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_sepa_debit"})
    assert caught.value.code == "payment_method_invalid_parameter"
    assert (await client.v1.invoices.retrieve_async(inv.id)).attempt_count == 0


async def test_refund_partial_then_full_after_payment(
    client: stripe.StripeClient, factory: Factory, receiver: Receiver
) -> None:
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id, amounts=(348000,))
    paid = await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})

    first = await client.v1.refunds.create_async(
        params={
            "charge": paid.charge,
            "amount": 100000,
            "metadata": {"credit_note": "A2026-000001"},
        }
    )
    assert (first.status, first.amount, first.payment_intent) == (
        "succeeded",
        100000,
        paid.payment_intent,
    )
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await client.v1.refunds.create_async(params={"charge": paid.charge, "amount": 248001})
    assert too_much.value.code == "amount_too_large"

    rest = await client.v1.refunds.create_async(params={"payment_intent": paid.payment_intent})
    assert rest.amount == 248000
    charge = await client.v1.charges.retrieve_async(paid.charge)
    assert (charge.amount_refunded, charge.refunded) == (348000, True)
    assert [r.id for r in charge.refunds.data] == [rest.id, first.id]
    with pytest.raises(stripe.InvalidRequestError) as again:
        await client.v1.refunds.create_async(params={"charge": paid.charge})
    assert again.value.code == "charge_already_refunded"

    listed = await client.v1.refunds.list_async(params={"charge": paid.charge})
    assert [r.id for r in listed.data] == [rest.id, first.id]
    assert (await client.v1.refunds.retrieve_async(first.id)).metadata[
        "credit_note"
    ] == "A2026-000001"
    refunded = await eventually(lambda: len(receiver.of_type("charge.refunded")) == 2)
    assert refunded
    created = await eventually(lambda: len(receiver.of_type("refund.created")) == 2)
    assert created
    assert {e.data.object.id for e in receiver.of_type("refund.created")} == {first.id, rest.id}
    assert (await client.v1.invoices.retrieve_async(inv.id)).status == "paid"


async def test_refund_of_a_pending_sepa_charge_is_refused(
    client: stripe.StripeClient, factory: Factory
) -> None:
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id)
    pending = await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_sepa_debit"})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.refunds.create_async(params={"charge": pending.charge})
    assert caught.value.code == "charge_not_refundable"
