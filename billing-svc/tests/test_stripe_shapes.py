"""The paying payment intent is found in both invoice shapes Stripe has served."""

from __future__ import annotations

import stripe
from prisme_billing.stripe_calls import invoice_payment_intent


def test_current_api_lists_payments_on_the_invoice() -> None:
    inv = stripe.StripeObject.construct_from(
        {
            "id": "in_1",
            "object": "invoice",
            "payments": {
                "object": "list",
                "data": [
                    {
                        "object": "invoice_payment",
                        "payment": {"type": "payment_intent", "payment_intent": "pi_new"},
                    }
                ],
            },
        },
        "sk_test_x",
    )
    assert invoice_payment_intent(inv) == "pi_new"


def test_older_api_puts_it_on_the_invoice() -> None:
    inv = stripe.StripeObject.construct_from(
        {"id": "in_2", "object": "invoice", "payment_intent": "pi_old"}, "sk_test_x"
    )
    assert invoice_payment_intent(inv) == "pi_old"


def test_unpaid_invoice_has_none() -> None:
    inv = stripe.StripeObject.construct_from(
        {"id": "in_3", "object": "invoice", "payments": {"object": "list", "data": []}}, "sk_test_x"
    )
    assert invoice_payment_intent(inv) is None
