"""Payment intents and charges: the payment of an invoice by card or SEPA Direct Debit."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import JSON, ParamsDep, SandboxDep
from ..errors import StripeError, invalid
from ..sandbox import Sandbox
from ..store import Obj, now, random_token
from . import payment_methods

router = APIRouter()

_DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
}


def _payment_intent(sb: Sandbox, invoice: Obj, pm: Obj) -> Obj:
    """The invoice's payment intent, reused across attempts as Stripe does."""
    pi_id = invoice.get("payment_intent")
    if pi_id:
        previous = sb.store.get("payment_intent", pi_id)
        if previous["status"] == "requires_payment_method":
            previous.update(payment_method=pm["id"], payment_method_types=[pm["type"]])
            return previous
    pi_id = sb.store.new_id("pi")
    pi: Obj = {
        "id": pi_id,
        "object": "payment_intent",
        "amount": invoice["amount_remaining"],
        "amount_capturable": 0,
        "amount_received": 0,
        "canceled_at": None,
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_{random_token(16)}",
        "confirmation_method": "automatic",
        "created": now(),
        "currency": invoice["currency"],
        "customer": invoice["customer"],
        "description": f"Invoice {invoice['number']}",
        "invoice": invoice["id"],
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": {},
        "payment_method": pm["id"],
        "payment_method_types": [pm["type"]],
        "status": "requires_payment_method",
    }
    invoice["payment_intent"] = pi_id
    return sb.store.add(pi)


def _charge(sb: Sandbox, invoice: Obj, pi: Obj, pm: Obj, status: str) -> Obj:
    charge_id = sb.store.new_id("ch")
    details: Obj = {"type": pm["type"], pm["type"]: dict(pm[pm["type"]])}
    charge: Obj = {
        "id": charge_id,
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": pi["amount"] if status == "succeeded" else 0,
        "amount_refunded": 0,
        "balance_transaction": None,
        "billing_details": dict(pm["billing_details"]),
        "captured": status == "succeeded",
        "created": now(),
        "currency": pi["currency"],
        "customer": invoice["customer"],
        "description": pi["description"],
        "failure_code": None,
        "failure_message": None,
        "invoice": invoice["id"],
        "livemode": False,
        "metadata": {},
        "outcome": None,
        "paid": status == "succeeded",
        "payment_intent": pi["id"],
        "payment_method": pm["id"],
        "payment_method_details": details,
        "receipt_url": None,
        "refunded": False,
        "refunds": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/charges/{charge_id}/refunds",
        },
        "status": status,
    }
    pi["latest_charge"] = charge_id
    invoice["charge"] = charge_id
    return sb.store.add(charge)


def _succeed(sb: Sandbox, invoice: Obj, pi: Obj, charge: Obj) -> None:
    charge.update(
        status="succeeded",
        paid=True,
        captured=True,
        amount_captured=charge["amount"],
        balance_transaction=f"txn_{random_token()}",
        outcome={
            "network_status": "approved_by_network",
            "type": "authorized",
            "risk_level": "normal",
        },
    )
    pi.update(status="succeeded", amount_received=pi["amount"], last_payment_error=None)
    paid_at = now()
    invoice.update(
        status="paid",
        paid=True,
        amount_paid=invoice["amount_paid"] + charge["amount"],
        amount_remaining=0,
        next_payment_attempt=None,
    )
    invoice["status_transitions"]["paid_at"] = paid_at
    invoice["payments"]["data"].append(
        {
            "id": f"inpay_{random_token()}",
            "object": "invoice_payment",
            "amount_paid": charge["amount"],
            "amount_requested": pi["amount"],
            "created": paid_at,
            "currency": invoice["currency"],
            "invoice": invoice["id"],
            "is_default": True,
            "livemode": False,
            "payment": {"type": "payment_intent", "payment_intent": pi["id"]},
            "status": "paid",
            "status_transitions": {"paid_at": paid_at, "canceled_at": None},
        }
    )
    sb.emit("charge.succeeded", charge)
    sb.emit("payment_intent.succeeded", pi)
    sb.emit("invoice.paid", invoice)
    sb.emit("invoice.payment_succeeded", invoice)


def _fail(
    sb: Sandbox, invoice: Obj, pi: Obj, charge: Obj, code: str, decline_code: str | None
) -> Obj:
    message = _DECLINE_MESSAGES.get(decline_code or "", "The payment failed.")
    charge.update(
        status="failed",
        paid=False,
        captured=False,
        failure_code=code,
        failure_message=message,
        outcome={
            "network_status": "declined_by_network",
            "type": "issuer_declined",
            "reason": decline_code,
            "risk_level": "normal",
        },
    )
    error: Obj = {
        "type": "card_error",
        "code": code,
        "decline_code": decline_code,
        "message": message,
        "charge": charge["id"],
        "payment_method": {
            "id": pi["payment_method"],
            "type": charge["payment_method_details"]["type"],
        },
    }
    pi.update(status="requires_payment_method", last_payment_error=error)
    sb.emit("charge.failed", charge)
    sb.emit("payment_intent.payment_failed", pi)
    sb.emit("invoice.payment_failed", invoice)
    return error


def pay_invoice(sb: Sandbox, invoice: Obj, pm: Obj) -> None:
    """Attempt the invoice's payment with ``pm``: cards settle now, SEPA debits go processing.

    A declined card raises Stripe's 402 ``card_error`` after recording the failed attempt.
    """
    if pm["type"] not in ("card", "sepa_debit"):
        raise invalid(
            f"Unsupported payment method type {pm['type']}", "payment_method_invalid_parameter"
        )
    pi = _payment_intent(sb, invoice, pm)
    invoice.update(attempted=True, attempt_count=invoice["attempt_count"] + 1)
    if pm["type"] == "sepa_debit":
        charge = _charge(sb, invoice, pi, pm, "pending")
        pi["status"] = "processing"
        sb.emit("payment_intent.processing", pi)
        sb.emit("charge.pending", charge)
        delay = sb.switches.sepa_auto_settle_seconds
        if delay is not None:
            fails = payment_methods.private(sb, pm).get("sepa_fails", False)
            sb.later(delay, lambda: _auto_settle(sb, pi["id"], fails))
        return
    charge = _charge(sb, invoice, pi, pm, "pending")
    decline = payment_methods.private(sb, pm).get("decline_code")
    if decline is None and sb.switches.take_decline():
        decline = sb.switches.decline_code
    if decline is None:
        _succeed(sb, invoice, pi, charge)
        return
    error = _fail(sb, invoice, pi, charge, "card_declined", decline)
    raise StripeError(
        402,
        "card_error",
        error["message"],
        code="card_declined",
        decline_code=decline,
        charge=charge["id"],
        payment_intent=sb.store.render(pi),
    )


def processing_payment(sb: Sandbox, obj_id: str) -> tuple[Obj, Obj, Obj]:
    """(invoice, payment intent, charge) of a processing SEPA payment, by any of their ids."""
    obj = sb.store.find(obj_id)
    pi: Obj | None = None
    kind = obj.get("object") if obj is not None else None
    if obj is not None and kind in ("invoice", "charge") and obj.get("payment_intent"):
        pi = sb.store.find(obj["payment_intent"])
    elif obj is not None and kind == "payment_intent":
        pi = obj
    if pi is None:
        raise invalid(f"No payment found for '{obj_id}'", code="resource_missing", param="id")
    if pi["status"] != "processing":
        raise invalid(
            f"Payment {pi['id']} is not processing (status {pi['status']})",
            code="payment_intent_unexpected_state",
        )
    return sb.store.get("invoice", pi["invoice"]), pi, sb.store.get("charge", pi["latest_charge"])


def settle(sb: Sandbox, obj_id: str) -> Obj:
    invoice, pi, charge = processing_payment(sb, obj_id)
    _succeed(sb, invoice, pi, charge)
    return invoice


def fail(sb: Sandbox, obj_id: str, failure_code: str = "insufficient_funds") -> Obj:
    invoice, pi, charge = processing_payment(sb, obj_id)
    _fail(sb, invoice, pi, charge, failure_code, None)
    return invoice


def _auto_settle(sb: Sandbox, pi_id: str, fails: bool) -> None:
    pi = sb.store.find(pi_id)
    if pi is None or pi["status"] != "processing":
        return
    if fails:
        fail(sb, pi_id)
    else:
        settle(sb, pi_id)


@router.get("/v1/payment_intents/{pi_id}")
async def retrieve_payment_intent(pi_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    return sb.store.render(sb.store.get("payment_intent", pi_id), p.expand())


@router.get("/v1/payment_intents")
async def list_payment_intents(sb: SandboxDep, p: ParamsDep) -> JSON:
    customer = p.string("customer")
    items = sb.store.all("payment_intent", lambda o: customer is None or o["customer"] == customer)
    return sb.store.page(items, p, "/v1/payment_intents")


@router.get("/v1/charges/{charge_id}")
async def retrieve_charge(charge_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    return sb.store.render(sb.store.get("charge", charge_id), p.expand())


@router.get("/v1/charges")
async def list_charges(sb: SandboxDep, p: ParamsDep) -> JSON:
    customer = p.string("customer")
    pi = p.string("payment_intent")
    items = sb.store.all(
        "charge",
        lambda o: (
            (customer is None or o["customer"] == customer)
            and (pi is None or o["payment_intent"] == pi)
        ),
    )
    return sb.store.page(items, p, "/v1/charges")
