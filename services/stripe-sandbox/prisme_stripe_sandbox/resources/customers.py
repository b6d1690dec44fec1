"""Customers: create, retrieve, update, list, delete."""

from __future__ import annotations

import secrets

from fastapi import APIRouter

from ..deps import JSON, ParamsDep, SandboxDep
from ..errors import invalid
from ..params import Params, merge_metadata
from ..sandbox import Sandbox
from ..store import Obj, now
from . import payment_methods

router = APIRouter()

_FIELDS = ("email", "name", "description", "phone")
_COMMON = (
    *_FIELDS,
    "address",
    "metadata",
    "preferred_locales",
    "invoice_settings",
    "invoice_prefix",
)
_IGNORED = ("tax_exempt", "tax_id_data", "shipping", "tax", "test_clock", "balance", "source")


def get_customer(sb: Sandbox, customer_id: str, *, param: str = "customer") -> Obj:
    """A live (not deleted) customer or Stripe's 404."""
    customer = sb.store.get("customer", customer_id, param=param)
    if customer.get("deleted"):
        raise invalid(f"No such customer: '{customer_id}'", code="resource_missing", param=param)
    return customer


def _apply(sb: Sandbox, customer: Obj, p: Params, aliases: dict[str, str] | None = None) -> None:
    """Apply the parameters to ``customer`` (a copy: on a validation error nothing changes)."""
    for name in _FIELDS:
        if name in p:
            customer[name] = p.string(name)
    if "address" in p:
        customer["address"] = p.mapping("address") or None
    if "preferred_locales" in p:
        customer["preferred_locales"] = [str(v) for v in p.array("preferred_locales") or []]
    if "invoice_prefix" in p:
        prefix = p.req("invoice_prefix")
        if not (3 <= len(prefix) <= 12 and prefix.isalnum() and prefix.isupper()):
            raise invalid(
                "Invalid invoice_prefix", code="parameter_invalid", param="invoice_prefix"
            )
        customer["invoice_prefix"] = prefix
    customer["metadata"] = merge_metadata(customer["metadata"], p.data.get("metadata"))
    settings = p.mapping("invoice_settings")
    if settings is not None:
        for key in ("footer", "custom_fields", "rendering_options"):
            if key in settings:
                customer["invoice_settings"][key] = settings[key] or None
        if "default_payment_method" in settings:
            pm_id = settings["default_payment_method"] or None
            # Stripe accepts the test id given as `payment_method` at creation here too.
            pm_id = (aliases or {}).get(pm_id, pm_id) if pm_id else None
            if pm_id is not None:
                pm = sb.store.find(pm_id)
                attaching = pm_id in (aliases or {}).values()
                if pm is None or (pm.get("customer") != customer["id"] and not attaching):
                    raise invalid(
                        f"The customer does not have a payment method with the ID {pm_id}. "
                        "The payment method must be attached to the customer.",
                        code="resource_missing",
                        param="invoice_settings[default_payment_method]",
                    )
            customer["invoice_settings"]["default_payment_method"] = pm_id


@router.post("/v1/customers")
async def create_customer(sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow(*_COMMON, "payment_method", ignored=_IGNORED)
    customer: Obj = {
        "id": sb.store.new_id("cus"),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": now(),
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "email": None,
        "invoice_prefix": secrets.token_hex(4).upper(),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": {},
        "name": None,
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
    }
    pm_id = p.string("payment_method")
    aliases: dict[str, str] = {}
    if pm_id is not None:
        pm = payment_methods.resolve(sb, pm_id)
        if pm["customer"] is not None:
            raise invalid(
                "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
                param="payment_method",
            )
        aliases[pm_id] = pm["id"]
    _apply(sb, customer, p, aliases)
    sb.store.add(customer)
    sb.emit("customer.created", customer)
    for attached in aliases.values():
        payment_methods.attach(sb, attached, customer["id"])
    return sb.store.render(customer, p.expand())


@router.get("/v1/customers/{customer_id}")
async def retrieve_customer(customer_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    return sb.store.render(sb.store.get("customer", customer_id), p.expand())


@router.post("/v1/customers/{customer_id}")
async def update_customer(customer_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow(*_COMMON, ignored=_IGNORED)
    customer = get_customer(sb, customer_id, param="id")
    draft = sb.store.render(customer)
    _apply(sb, draft, p)
    previous = {k: v for k, v in customer.items() if draft.get(k) != v}
    customer.update(draft)
    if previous:
        sb.emit("customer.updated", customer, previous)
    return sb.store.render(customer, p.expand())


@router.delete("/v1/customers/{customer_id}")
async def delete_customer(customer_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    customer = get_customer(sb, customer_id, param="id")
    sb.emit("customer.deleted", customer)
    stub = {"id": customer_id, "object": "customer", "deleted": True}
    sb.store.objects[customer_id] = stub
    return dict(stub)


@router.get("/v1/customers")
async def list_customers(sb: SandboxDep, p: ParamsDep) -> JSON:
    email = p.string("email")
    items = sb.store.all(
        "customer",
        lambda o: not o.get("deleted") and (email is None or o.get("email") == email),
    )
    return sb.store.page(items, p, "/v1/customers")
