"""Payment methods: Stripe's test cards, SEPA Direct Debit, attach/detach."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter

from ..deps import JSON, ParamsDep, SandboxDep
from ..errors import invalid, not_found
from ..params import Params, merge_metadata
from ..sandbox import Sandbox
from ..store import Obj, now

router = APIRouter()

SEPA_FAILING_IBAN = "AT861904300235473202"
SEPA_DEFAULT_IBAN = "AT611904300234573201"

# Stripe's test payment methods: id -> (card brand, last4, decline code or None)
_TEST_CARDS: dict[str, tuple[str, str, str | None]] = {
    "pm_card_visa": ("visa", "4242", None),
    "pm_card_mastercard": ("mastercard", "4444", None),
    "pm_card_chargeDeclined": ("visa", "0002", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("visa", "9995", "insufficient_funds"),
}
_TEST_TOKENS = {
    "tok_visa": "pm_card_visa",
    "tok_mastercard": "pm_card_mastercard",
    "tok_chargeDeclined": "pm_card_chargeDeclined",
    "tok_chargeDeclinedInsufficientFunds": "pm_card_chargeDeclinedInsufficientFunds",
}
_IBAN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def _base(sb: Sandbox, pm_type: str, billing: dict[str, Any] | None, metadata: Obj) -> Obj:
    billing = billing or {}
    return {
        "id": sb.store.new_id("pm"),
        "object": "payment_method",
        "type": pm_type,
        "billing_details": {
            "address": billing.get("address"),
            "email": billing.get("email"),
            "name": billing.get("name"),
            "phone": billing.get("phone"),
        },
        "customer": None,
        "created": now(),
        "livemode": False,
        "metadata": metadata,
    }


def _card(sb: Sandbox, magic: str, billing: dict[str, Any] | None, metadata: Obj) -> Obj:
    brand, last4, decline = _TEST_CARDS[magic]
    pm = _base(sb, "card", billing, metadata)
    pm["card"] = {
        "brand": brand,
        "last4": last4,
        "exp_month": 12,
        "exp_year": 2034,
        "country": "US",
        "funding": "credit",
        "fingerprint": magic.removeprefix("pm_card_")[:16],
    }
    sb.store.private[pm["id"]] = {"decline_code": decline}
    return sb.store.add(pm)


def _sepa(sb: Sandbox, iban: str, billing: dict[str, Any] | None, metadata: Obj) -> Obj:
    iban = iban.replace(" ", "").upper()
    if not _IBAN.match(iban):
        raise invalid(
            "The IBAN you provided is invalid.",
            code="invalid_bank_account_iban",
            param="sepa_debit[iban]",
        )
    pm = _base(sb, "sepa_debit", billing, metadata)
    pm["sepa_debit"] = {
        "bank_code": iban[4:9],
        "branch_code": "",
        "country": iban[:2],
        "fingerprint": iban[-8:],
        "last4": iban[-4:],
    }
    sb.store.private[pm["id"]] = {"sepa_fails": iban == SEPA_FAILING_IBAN}
    return sb.store.add(pm)


def resolve(sb: Sandbox, pm_id: str, *, param: str = "payment_method") -> Obj:
    """An existing payment method, or a fresh one for a test id (``pm_card_visa``)."""
    found = sb.store.find(pm_id)
    if found is not None and found.get("object") == "payment_method":
        return found
    if pm_id in _TEST_CARDS:
        return _card(sb, pm_id, None, {})
    if pm_id == "pm_sepa_debit":
        return _sepa(sb, SEPA_DEFAULT_IBAN, {"name": "Sandbox", "email": "sepa@example.com"}, {})
    raise not_found("PaymentMethod", pm_id, param=param)


def attach(sb: Sandbox, pm_id: str, customer_id: str) -> Obj:
    """Attach to a customer; a test id gives a new ``pm_...`` as Stripe does."""
    customer = sb.store.get("customer", customer_id, param="customer")
    pm = resolve(sb, pm_id)
    if pm["customer"] == customer["id"]:
        return pm
    if pm["customer"] is not None:
        raise invalid(
            "The payment method you provided has already been attached to a customer.",
            code="payment_method_unexpected_state",
            param="payment_method",
        )
    pm["customer"] = customer["id"]
    sb.emit("payment_method.attached", pm)
    return pm


def private(sb: Sandbox, pm: Obj) -> Obj:
    return sb.store.private.get(pm["id"], {})


@router.post("/v1/payment_methods")
async def create_payment_method(sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow(
        "type", "card", "sepa_debit", "billing_details", "metadata", ignored=("allow_redisplay",)
    )
    pm_type = p.req("type")
    billing = p.mapping("billing_details")
    metadata = merge_metadata({}, p.data.get("metadata"))
    if pm_type == "card":
        card = p.mapping("card") or {}
        token = card.get("token")
        if token not in _TEST_TOKENS:
            raise invalid(
                "Use a test token (tok_visa, tok_mastercard, tok_chargeDeclined, "
                "tok_chargeDeclinedInsufficientFunds) in card[token].",
                code="parameter_invalid",
                param="card[token]",
            )
        pm = _card(sb, _TEST_TOKENS[token], billing, metadata)
    elif pm_type == "sepa_debit":
        sepa = p.mapping("sepa_debit") or {}
        iban = sepa.get("iban")
        if not isinstance(iban, str) or not iban:
            raise invalid(
                "Missing required param: sepa_debit[iban].", "parameter_missing", "sepa_debit[iban]"
            )
        pm = _sepa(sb, iban, billing, metadata)
    else:
        raise invalid(f"Unsupported payment method type: {pm_type}", "parameter_invalid", "type")
    return sb.store.render(pm, p.expand())


@router.get("/v1/payment_methods/{pm_id}")
async def retrieve_payment_method(pm_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    return sb.store.render(sb.store.get("payment_method", pm_id), p.expand())


@router.post("/v1/payment_methods/{pm_id}/attach")
async def attach_payment_method(pm_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow("customer")
    return sb.store.render(attach(sb, pm_id, p.req("customer")), p.expand())


@router.post("/v1/payment_methods/{pm_id}/detach")
async def detach_payment_method(pm_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow()
    pm = sb.store.get("payment_method", pm_id)
    if pm["customer"] is None:
        raise invalid(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
            code="payment_method_unexpected_state",
        )
    customer = sb.store.find(pm["customer"])
    if customer and customer.get("invoice_settings", {}).get("default_payment_method") == pm["id"]:
        customer["invoice_settings"]["default_payment_method"] = None
    previous = {"customer": pm["customer"]}
    pm["customer"] = None
    sb.emit("payment_method.detached", pm, previous)
    return sb.store.render(pm, p.expand())


def _list(sb: Sandbox, p: Params, customer: str | None, url: str) -> JSON:
    pm_type = p.string("type")
    items = sb.store.all(
        "payment_method",
        lambda o: (
            (customer is None or o["customer"] == customer)
            and (pm_type is None or o["type"] == pm_type)
        ),
    )
    return sb.store.page(items, p, url)


@router.get("/v1/payment_methods")
async def list_payment_methods(sb: SandboxDep, p: ParamsDep) -> JSON:
    return _list(sb, p, p.string("customer"), "/v1/payment_methods")


@router.get("/v1/customers/{customer_id}/payment_methods")
async def list_customer_payment_methods(customer_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    sb.store.get("customer", customer_id)
    return _list(sb, p, customer_id, f"/v1/customers/{customer_id}/payment_methods")
