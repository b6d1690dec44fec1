"""Invoice items: pending or attached to a draft invoice."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from fastapi import APIRouter

from ..deps import JSON, ParamsDep, SandboxDep
from ..errors import invalid
from ..params import Params, merge_metadata, to_int
from ..sandbox import Sandbox
from ..store import Obj, now
from .customers import get_customer
from .invoices import editable_invoice, recompute

router = APIRouter()

_AMOUNT_FIELDS = ("amount", "unit_amount", "unit_amount_decimal", "price_data", "quantity")
_IGNORED = ("discountable", "tax_behavior", "tax_code")
_UNMODELLED = ("discounts", "tax_rates", "price", "pricing", "subscription")


def _amounts(p: Params, item: Obj) -> None:
    """Set quantity / unit_amount / amount from ``amount``, ``unit_amount*`` or ``price_data``."""
    quantity = p.integer("quantity", minimum=0)
    if quantity is None:
        quantity = item.get("quantity") or 1
    price_data = p.mapping("price_data")
    given = [n for n in ("amount", "unit_amount", "unit_amount_decimal", "price_data") if n in p]
    if len(given) > 1:
        raise invalid(
            f"You may only specify one of these parameters: {', '.join(given)}.",
            code="parameter_invalid",
            param=given[1],
        )
    unit: Decimal | None = None
    if "amount" in p:
        amount = p.integer("amount", required=True)
        assert amount is not None
        item.update(amount=amount, quantity=1, unit_amount=amount, unit_amount_decimal=str(amount))
        return
    if "unit_amount" in p:
        unit = Decimal(p.integer("unit_amount", required=True) or 0)
    elif "unit_amount_decimal" in p:
        unit = p.decimal("unit_amount_decimal")
    elif price_data is not None:
        if "currency" in price_data:
            item["currency"] = str(price_data["currency"]).lower()
        if "unit_amount" in price_data:
            unit = Decimal(to_int(price_data["unit_amount"], "price_data[unit_amount]"))
        elif "unit_amount_decimal" in price_data:
            unit = Params(price_data).decimal("unit_amount_decimal")
        if unit is None:
            raise invalid(
                "Missing required param: price_data[unit_amount].",
                code="parameter_missing",
                param="price_data[unit_amount]",
            )
    elif item.get("unit_amount_decimal") is not None:
        unit = Decimal(item["unit_amount_decimal"])
    if unit is None:
        raise invalid("Missing required param: amount.", code="parameter_missing", param="amount")
    total = (unit * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    item.update(
        amount=int(total),
        quantity=quantity,
        unit_amount=int(unit) if unit == unit.to_integral_value() else None,
        unit_amount_decimal=str(unit),
    )


def _apply(sb: Sandbox, item: Obj, p: Params) -> None:
    if "description" in p:
        item["description"] = p.string("description")
    if "currency" in p:
        item["currency"] = p.req("currency").lower()
    if any(n in p for n in _AMOUNT_FIELDS):
        _amounts(p, item)
    period = p.mapping("period")
    if period is not None:
        item["period"] = {
            "start": to_int(period.get("start", item["date"]), "period[start]"),
            "end": to_int(period.get("end", item["date"]), "period[end]"),
        }
    item["metadata"] = merge_metadata(item["metadata"], p.data.get("metadata"))


@router.post("/v1/invoiceitems")
async def create_invoiceitem(sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow(
        "customer",
        "invoice",
        "currency",
        "description",
        "metadata",
        "period",
        *_AMOUNT_FIELDS,
        ignored=_IGNORED,
        unmodelled=_UNMODELLED,
    )
    customer = get_customer(sb, p.req("customer"))
    invoice = None
    if p.string("invoice") is not None:
        invoice = editable_invoice(sb, p.req("invoice"), param="invoice")
        if invoice["customer"] != customer["id"]:
            raise invalid(
                "The invoice's customer must match the invoice item's customer.",
                code="parameter_invalid",
                param="invoice",
            )
    created = now()
    item: Obj = {
        "id": sb.store.new_id("ii"),
        "object": "invoiceitem",
        "amount": 0,
        "currency": invoice["currency"] if invoice else "eur",
        "customer": customer["id"],
        "date": created,
        "description": None,
        "discountable": True,
        "invoice": invoice["id"] if invoice else None,
        "livemode": False,
        "metadata": {},
        "period": {"start": created, "end": created},
        "proration": False,
        "quantity": 1,
        "unit_amount": None,
        "unit_amount_decimal": None,
    }
    if not any(n in p for n in ("amount", "unit_amount", "unit_amount_decimal", "price_data")):
        raise invalid("Missing required param: amount.", code="parameter_missing", param="amount")
    _apply(sb, item, p)
    if invoice is not None and item["currency"] != invoice["currency"]:
        raise invalid(
            f"The currency of the invoice item ({item['currency']}) must match the "
            f"invoice's currency ({invoice['currency']}).",
            code="parameter_invalid",
            param="currency",
        )
    sb.store.add(item)
    sb.emit("invoiceitem.created", item)
    if invoice is not None:
        recompute(sb, invoice)
    return sb.store.render(item, p.expand())


def _editable_item(sb: Sandbox, item_id: str) -> Obj:
    item = sb.store.get("invoiceitem", item_id)
    if item["invoice"] is not None:
        editable_invoice(sb, item["invoice"], param="id")
    return item


@router.get("/v1/invoiceitems/{item_id}")
async def retrieve_invoiceitem(item_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    return sb.store.render(sb.store.get("invoiceitem", item_id), p.expand())


@router.post("/v1/invoiceitems/{item_id}")
async def update_invoiceitem(item_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow(
        "description", "metadata", "period", *_AMOUNT_FIELDS,
        ignored=_IGNORED, unmodelled=_UNMODELLED,
    )  # fmt: skip
    item = _editable_item(sb, item_id)
    draft = sb.store.render(item)
    _apply(sb, draft, p)
    previous = {k: v for k, v in item.items() if draft.get(k) != v}
    item.update(draft)
    if previous:
        sb.emit("invoiceitem.updated", item, previous)
    if item["invoice"] is not None:
        recompute(sb, sb.store.get("invoice", item["invoice"]))
    return sb.store.render(item, p.expand())


@router.delete("/v1/invoiceitems/{item_id}")
async def delete_invoiceitem(item_id: str, sb: SandboxDep) -> JSON:
    item = _editable_item(sb, item_id)
    del sb.store.objects[item_id]
    sb.emit("invoiceitem.deleted", item)
    if item["invoice"] is not None:
        recompute(sb, sb.store.get("invoice", item["invoice"]))
    return {"id": item_id, "object": "invoiceitem", "deleted": True}


@router.get("/v1/invoiceitems")
async def list_invoiceitems(sb: SandboxDep, p: ParamsDep) -> JSON:
    customer = p.string("customer")
    invoice = p.string("invoice")
    pending = p.boolean("pending")
    items = sb.store.all(
        "invoiceitem",
        lambda o: (
            (customer is None or o["customer"] == customer)
            and (invoice is None or o["invoice"] == invoice)
            and (pending is None or (o["invoice"] is None) == pending)
        ),
    )
    return sb.store.page(items, p, "/v1/invoiceitems")
