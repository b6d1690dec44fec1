"""Invoices: draft → open → paid | void | uncollectible, amounts computed from their items."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..deps import JSON, ParamsDep, SandboxDep
from ..errors import invalid
from ..params import Params, as_list, merge_metadata
from ..sandbox import Sandbox
from ..store import Obj, created_filter, now
from . import payment_methods
from .customers import get_customer

router = APIRouter()

_SETTABLE = (
    "collection_method", "days_until_due", "due_date", "auto_advance", "currency", "description",
    "footer", "metadata", "default_payment_method", "payment_settings", "number",
)  # fmt: skip
_IGNORED = (
    "custom_fields", "rendering", "statement_descriptor", "account_tax_ids", "effective_at",
    "issuer", "shipping_details", "default_source", "automatic_tax",
)  # fmt: skip
_UNMODELLED = (
    "discounts", "default_tax_rates", "shipping_cost", "on_behalf_of", "transfer_data",
    "application_fee_amount", "subscription", "from_invoice",
)  # fmt: skip
_OPEN_EDITABLE = {"metadata", "auto_advance", "description", "footer"}


def _refuse_automatic_tax(p: Params) -> None:
    tax = p.mapping("automatic_tax") or {}
    if tax.get("enabled") == "true":
        raise invalid(
            "Stripe Tax (`automatic_tax[enabled]=true`) is not modelled by the sandbox; "
            "PRISME prices are TTC with VAT computed by billing-svc (B3).",
            code="parameter_unknown",
            param="automatic_tax[enabled]",
        )


def editable_invoice(sb: Sandbox, invoice_id: str, *, param: str = "invoice") -> Obj:
    """A draft invoice, or Stripe's 400 ``invoice_not_editable``."""
    invoice = sb.store.get("invoice", invoice_id, param=param)
    if invoice["status"] != "draft":
        raise invalid(
            f"You can only modify draft invoices; invoice {invoice_id} is {invoice['status']}.",
            code="invoice_not_editable",
            param=param,
        )
    return invoice


def recompute(sb: Sandbox, invoice: Obj) -> None:
    """Lines and totals of a draft from its invoice items, in creation order."""
    items = list(reversed(sb.store.all("invoiceitem", lambda o: o["invoice"] == invoice["id"])))
    lines = [
        {
            "id": f"il_{item['id'].removeprefix('ii_')}",
            "object": "line_item",
            "amount": item["amount"],
            "currency": item["currency"],
            "description": item["description"],
            "discountable": item["discountable"],
            "invoice": invoice["id"],
            "invoice_item": item["id"],
            "livemode": False,
            "metadata": dict(item["metadata"]),
            "period": dict(item["period"]),
            "quantity": item["quantity"],
            "type": "invoiceitem",
            "unit_amount_excluding_tax": item["unit_amount_decimal"],
        }
        for item in items
    ]
    total = sum(line["amount"] for line in lines)
    due = max(total, 0)
    invoice["lines"].update(data=lines, total_count=len(lines))
    invoice.update(
        subtotal=total,
        subtotal_excluding_tax=total,
        total=total,
        total_excluding_tax=total,
        amount_due=due,
        amount_remaining=due - invoice["amount_paid"],
    )


def _validate_payment_settings(value: Any) -> Obj:
    if value == "":
        return {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        }
    if not isinstance(value, dict):
        raise invalid(
            "Invalid payment_settings", code="parameter_invalid", param="payment_settings"
        )
    types = value.get("payment_method_types")
    types_list = None
    if types is not None:
        types_list = [str(t) for t in as_list(types, "payment_settings[payment_method_types]")]
    return {
        "default_mandate": value.get("default_mandate"),
        "payment_method_options": value.get("payment_method_options"),
        "payment_method_types": types_list or None,
    }


def _apply(sb: Sandbox, invoice: Obj, p: Params) -> None:
    """Apply settable parameters to a copy of the invoice, checking Stripe's constraints."""
    if "collection_method" in p:
        method = p.req("collection_method")
        if method not in ("charge_automatically", "send_invoice"):
            raise invalid(
                f"Invalid collection_method: {method}", "parameter_invalid", "collection_method"
            )
        invoice["collection_method"] = method
    if "days_until_due" in p:
        invoice["days_until_due"] = p.integer("days_until_due", minimum=0)
    if "due_date" in p:
        invoice["due_date"] = p.integer("due_date")
    for flag in ("auto_advance",):
        if flag in p:
            invoice[flag] = p.boolean(flag)
    for text in ("description", "footer", "number"):
        if text in p:
            invoice[text] = p.string(text)
    if "currency" in p:
        invoice["currency"] = p.req("currency").lower()
    if "default_payment_method" in p:
        pm_id = p.string("default_payment_method")
        if pm_id is not None:
            pm = payment_methods.resolve(sb, pm_id, param="default_payment_method")
            if pm["customer"] not in (None, invoice["customer"]):
                raise invalid(
                    "The payment method belongs to another customer.",
                    code="parameter_invalid",
                    param="default_payment_method",
                )
            pm_id = pm["id"]
        invoice["default_payment_method"] = pm_id
    if "payment_settings" in p:
        invoice["payment_settings"] = _validate_payment_settings(p.data["payment_settings"])
    invoice["metadata"] = merge_metadata(invoice["metadata"], p.data.get("metadata"))
    if invoice["collection_method"] == "charge_automatically":
        if invoice["days_until_due"] is not None or invoice["due_date"] is not None:
            raise invalid(
                "You can only set `days_until_due` or `due_date` when `collection_method` is "
                "`send_invoice`.",
                code="parameter_invalid",
                param="days_until_due",
            )
    elif invoice["days_until_due"] is None and invoice["due_date"] is None:
        raise invalid(
            "Missing required param: days_until_due (or due_date) for `send_invoice` invoices.",
            code="parameter_missing",
            param="days_until_due",
        )


def _new_invoice(sb: Sandbox, customer: Obj) -> Obj:
    invoice_id = sb.store.new_id("in")
    created = now()
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "FR",
        "account_name": "PRISME Stripe sandbox",
        "amount_due": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": False,
        "billing_reason": "manual",
        "charge": None,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": customer.get("currency") or "eur",
        "customer": customer["id"],
        "customer_address": customer.get("address"),
        "customer_email": customer.get("email"),
        "customer_name": customer.get("name"),
        "days_until_due": None,
        "default_payment_method": None,
        "description": None,
        "due_date": None,
        "effective_at": None,
        "footer": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "lines": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "paid": False,
        "paid_out_of_band": False,
        "payment_intent": None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "payments": {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/invoice_payments?invoice={invoice_id}",
        },
        "period_end": created,
        "period_start": created,
        "starting_balance": 0,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "total": 0,
        "total_excluding_tax": 0,
    }


@router.post("/v1/invoices")
async def create_invoice(sb: SandboxDep, p: ParamsDep, request: Request) -> JSON:
    p.allow(
        "customer", "pending_invoice_items_behavior", *_SETTABLE,
        ignored=_IGNORED, unmodelled=_UNMODELLED,
    )  # fmt: skip
    _refuse_automatic_tax(p)
    customer = get_customer(sb, p.req("customer"))
    behavior = p.string("pending_invoice_items_behavior") or "exclude"
    if behavior not in ("include", "exclude"):
        raise invalid(
            f"Invalid pending_invoice_items_behavior: {behavior}",
            code="parameter_invalid",
            param="pending_invoice_items_behavior",
        )
    invoice = _new_invoice(sb, customer)
    _apply(sb, invoice, p)
    sb.store.private[invoice["id"]] = {"base_url": str(request.base_url).rstrip("/")}
    sb.store.add(invoice)
    if behavior == "include":
        for item in sb.store.all(
            "invoiceitem",
            lambda o: (
                o["customer"] == customer["id"]
                and o["invoice"] is None
                and o["currency"] == invoice["currency"]
            ),
        ):
            item["invoice"] = invoice["id"]
    recompute(sb, invoice)
    sb.emit("invoice.created", invoice)
    return sb.store.render(invoice, p.expand())


@router.get("/v1/invoices/{invoice_id}")
async def retrieve_invoice(invoice_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    return sb.store.render(sb.store.get("invoice", invoice_id), p.expand())


@router.post("/v1/invoices/{invoice_id}")
async def update_invoice(invoice_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow(*_SETTABLE, ignored=_IGNORED, unmodelled=_UNMODELLED)
    _refuse_automatic_tax(p)
    invoice = sb.store.get("invoice", invoice_id)
    if invoice["status"] != "draft":
        for key in p.data:
            if key not in _OPEN_EDITABLE | {"expand"}:
                editable_invoice(sb, invoice_id, param=key)
    draft = sb.store.render(invoice)
    _apply(sb, draft, p)
    previous = {k: v for k, v in invoice.items() if draft.get(k) != v}
    invoice.update(draft)
    if previous:
        sb.emit("invoice.updated", invoice, previous)
    return sb.store.render(invoice, p.expand())


@router.delete("/v1/invoices/{invoice_id}")
async def delete_invoice(invoice_id: str, sb: SandboxDep) -> JSON:
    invoice = editable_invoice(sb, invoice_id, param="id")
    for item in sb.store.all("invoiceitem", lambda o: o["invoice"] == invoice_id):
        item["invoice"] = None
    del sb.store.objects[invoice_id]
    sb.emit("invoice.deleted", invoice)
    return {"id": invoice_id, "object": "invoice", "deleted": True}


@router.get("/v1/invoices")
async def list_invoices(sb: SandboxDep, p: ParamsDep) -> JSON:
    customer = p.string("customer")
    status = p.string("status")
    method = p.string("collection_method")
    in_range = created_filter(p)
    items = sb.store.all(
        "invoice",
        lambda o: (
            (customer is None or o["customer"] == customer)
            and (status is None or o["status"] == status)
            and (method is None or o["collection_method"] == method)
            and in_range(o)
        ),
    )
    return sb.store.page(items, p, "/v1/invoices")


@router.get("/v1/invoices/{invoice_id}/lines")
async def list_invoice_lines(invoice_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    invoice = sb.store.get("invoice", invoice_id)
    # lines are listed in invoice order (oldest first), unlike top-level lists
    return sb.store.page(invoice["lines"]["data"], p, f"/v1/invoices/{invoice_id}/lines")
