"""Invoice lifecycle rules: collection methods, draft-only edits, send, void, uncollectible."""

from __future__ import annotations

import pytest
import stripe

from .conftest import Factory, Receiver, eventually


async def test_send_invoice_due_date_send_and_paid_out_of_band(
    client: stripe.StripeClient, factory: Factory, receiver: Receiver
) -> None:
    cus = await factory.customer()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.invoices.create_async(
            params={"customer": cus.id, "collection_method": "send_invoice"}
        )
    assert caught.value.param == "days_until_due"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.invoices.create_async(
            params={"customer": cus.id, "days_until_due": 30}  # charge_automatically
        )

    inv = await factory.draft_invoice(
        cus.id, amounts=(5000,), collection_method="send_invoice", days_until_due=30
    )
    sent = await client.v1.invoices.send_invoice_async(inv.id)  # finalises the draft first
    assert sent.status == "open"
    assert sent.due_date == sent.status_transitions.finalized_at + 30 * 86400
    assert sent.hosted_invoice_url
    await eventually(lambda: receiver.of_type("invoice.sent"))

    paid = await client.v1.invoices.pay_async(inv.id, params={"paid_out_of_band": True})
    assert (paid.status, paid.paid_out_of_band, paid.charge) == ("paid", True, None)
    with pytest.raises(stripe.InvalidRequestError) as twice:
        await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})
    assert twice.value.code == "invoice_already_paid"


async def test_only_drafts_take_items_and_finalise_once(
    client: stripe.StripeClient, factory: Factory
) -> None:
    cus = await factory.customer()
    other = await factory.customer(email="other@example.re")
    inv = await factory.open_invoice(cus.id, amounts=(1000,))
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.invoice_items.create_async(
            params={"customer": cus.id, "invoice": inv.id, "amount": 5, "currency": "eur"}
        )
    assert caught.value.code == "invoice_not_editable"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.invoices.finalize_invoice_async(inv.id)
    draft = await factory.draft_invoice(cus.id, amounts=())
    with pytest.raises(stripe.InvalidRequestError) as wrong_customer:
        await client.v1.invoice_items.create_async(
            params={"customer": other.id, "invoice": draft.id, "amount": 5, "currency": "eur"}
        )
    assert wrong_customer.value.param == "invoice"
    with pytest.raises(stripe.InvalidRequestError) as wrong_currency:
        await client.v1.invoice_items.create_async(
            params={"customer": cus.id, "invoice": draft.id, "amount": 5, "currency": "usd"}
        )
    assert wrong_currency.value.param == "currency"
    # metadata stays editable on an open invoice, the rest does not
    updated = await client.v1.invoices.update_async(inv.id, params={"metadata": {"k": "v"}})
    assert updated.metadata["k"] == "v"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.invoices.update_async(inv.id, params={"currency": "usd"})
    assert (await client.v1.invoices.retrieve_async(draft.id)).total == 0


async def test_pending_items_included_and_item_updates_recompute(
    client: stripe.StripeClient, factory: Factory
) -> None:
    cus = await factory.customer()
    pending = await client.v1.invoice_items.create_async(
        params={
            "customer": cus.id,
            "unit_amount_decimal": "1234.5",
            "quantity": 2,
            "currency": "eur",
        }
    )
    assert pending.amount == 2469
    assert pending.invoice is None
    excluded = await client.v1.invoices.create_async(params={"customer": cus.id})
    assert excluded.total == 0
    inv = await client.v1.invoices.create_async(
        params={"customer": cus.id, "pending_invoice_items_behavior": "include"}
    )
    assert inv.total == 2469
    await client.v1.invoice_items.update_async(pending.id, params={"amount": 1000})
    assert (await client.v1.invoices.retrieve_async(inv.id)).amount_due == 1000
    await client.v1.invoice_items.delete_async(pending.id)
    assert (await client.v1.invoices.retrieve_async(inv.id)).amount_due == 0
    listed = await client.v1.invoices.list_async(params={"customer": cus.id, "status": "draft"})
    assert [i.id for i in listed.data] == [inv.id, excluded.id]
    for amount in (1, 2, 3):
        await client.v1.invoice_items.create_async(
            params={"customer": cus.id, "invoice": inv.id, "amount": amount, "currency": "eur"}
        )
    first = await client.v1.invoices.line_items.list_async(inv.id, params={"limit": 2})
    assert ([line.amount for line in first.data], first.has_more) == ([1, 2], True)
    rest = await client.v1.invoices.line_items.list_async(
        inv.id, params={"limit": 2, "starting_after": first.data[-1].id}
    )
    assert ([line.amount for line in rest.data], rest.has_more) == ([3], False)


async def test_void_uncollectible_and_zero_total(
    client: stripe.StripeClient, factory: Factory, receiver: Receiver
) -> None:
    cus = await factory.customer()
    inv = await factory.open_invoice(cus.id, amounts=(1000,))
    voided = await client.v1.invoices.void_invoice_async(inv.id)
    assert voided.status == "void"
    assert voided.status_transitions.voided_at is not None
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.invoices.pay_async(inv.id, params={"payment_method": "pm_card_visa"})

    bad = await factory.open_invoice(cus.id, amounts=(2000,))
    gone = await client.v1.invoices.mark_uncollectible_async(bad.id)
    assert gone.status == "uncollectible"
    late = await client.v1.invoices.pay_async(bad.id, params={"payment_method": "pm_card_visa"})
    assert late.status == "paid"

    free = await factory.open_invoice(cus.id, amounts=())
    assert (free.status, free.amount_due) == ("paid", 0)
    await eventually(lambda: receiver.of_type("invoice.voided"))
    await eventually(lambda: receiver.of_type("invoice.marked_uncollectible"))


async def test_custom_number_and_sequence(client: stripe.StripeClient, factory: Factory) -> None:
    cus = await factory.customer(invoice_prefix="PRISME01")
    first = await factory.open_invoice(cus.id, amounts=(100,))
    second = await factory.open_invoice(cus.id, amounts=(100,))
    assert (first.number, second.number) == ("PRISME01-0001", "PRISME01-0002")
    custom = await factory.open_invoice(cus.id, amounts=(100,), number="F2026-000123")
    assert custom.number == "F2026-000123"
