"""Invoice state changes: finalise, send, pay, void, mark uncollectible, automatic collection."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import JSON, ParamsDep, SandboxDep
from ..errors import StripeError, invalid
from ..sandbox import Sandbox
from ..store import Obj, now
from . import payment_methods, payments
from .invoices import editable_invoice

router = APIRouter()

_DAY = 86_400


def finalize(sb: Sandbox, invoice: Obj) -> None:
    """Draft → open with a number (or → paid when nothing is due)."""
    if invoice["status"] != "draft":
        raise invalid(
            "This invoice is already finalized, you can't re-finalize a non-draft invoice.",
            code="invoice_not_editable",
        )
    finalized_at = now()
    customer = sb.store.get("customer", invoice["customer"])
    if invoice["number"] is None:
        seq = customer["next_invoice_sequence"]
        customer["next_invoice_sequence"] = seq + 1
        invoice["number"] = f"{customer['invoice_prefix']}-{seq:04d}"
    base = sb.store.private.get(invoice["id"], {}).get("base_url", "")
    invoice.update(
        status="open",
        effective_at=finalized_at,
        hosted_invoice_url=f"{base}/_sandbox/hosted/{invoice['id']}",
        invoice_pdf=f"{base}/_sandbox/hosted/{invoice['id']}?format=pdf",
    )
    invoice["status_transitions"]["finalized_at"] = finalized_at
    if invoice["collection_method"] == "send_invoice" and invoice["due_date"] is None:
        invoice["due_date"] = finalized_at + int(invoice["days_until_due"]) * _DAY
    sb.emit("invoice.finalized", invoice)
    if invoice["amount_due"] == 0:
        invoice.update(status="paid", paid=True)
        invoice["status_transitions"]["paid_at"] = finalized_at
        sb.emit("invoice.paid", invoice)
        sb.emit("invoice.payment_succeeded", invoice)


@router.post("/v1/invoices/{invoice_id}/finalize")
async def finalize_invoice(invoice_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow("auto_advance")
    invoice = sb.store.get("invoice", invoice_id)
    if "auto_advance" in p:
        editable_invoice(sb, invoice_id, param="id")
        invoice["auto_advance"] = p.boolean("auto_advance")
    finalize(sb, invoice)
    return sb.store.render(invoice, p.expand())


@router.post("/v1/invoices/{invoice_id}/send")
async def send_invoice(invoice_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow()
    invoice = sb.store.get("invoice", invoice_id)
    if invoice["collection_method"] != "send_invoice":
        raise invalid(
            "You can only manually send an invoice if its collection method is 'send_invoice'.",
            code="invoice_not_editable",
        )
    if invoice["status"] == "draft":
        finalize(sb, invoice)
    if invoice["status"] in ("void", "uncollectible"):
        raise invalid(f"You can't send a {invoice['status']} invoice.", code="invoice_not_editable")
    sb.emit("invoice.sent", invoice)
    return sb.store.render(invoice, p.expand())


def _in_progress(sb: Sandbox, invoice: Obj) -> bool:
    pi_id: str | None = invoice.get("payment_intent")
    return pi_id is not None and sb.store.get("payment_intent", pi_id)["status"] == "processing"


def payment_method_for(sb: Sandbox, invoice: Obj, pm_param: str | None) -> Obj:
    """``payment_method`` param → invoice default → customer's invoice default."""
    customer = sb.store.get("customer", invoice["customer"])
    pm_id = (
        pm_param
        or invoice["default_payment_method"]
        or customer["invoice_settings"]["default_payment_method"]
    )
    if pm_id is None:
        raise invalid(
            "This customer has no attached payment source or default payment method. "
            "Please consider adding a default payment method.",
            code="invoice_no_payment_method",
        )
    pm = payment_methods.resolve(sb, pm_id)
    if pm["customer"] is None:
        payment_methods.attach(sb, pm["id"], customer["id"])
    elif pm["customer"] != customer["id"]:
        raise invalid(
            "The payment method belongs to another customer.",
            code="payment_method_invalid_parameter",
            param="payment_method",
        )
    allowed = invoice["payment_settings"]["payment_method_types"]
    if allowed is not None and pm["type"] not in allowed:
        raise invalid(
            f"The payment method type {pm['type']} is not in this invoice's "
            f"payment_settings.payment_method_types ({', '.join(allowed)}).",
            code="payment_method_invalid_parameter",
            param="payment_method",
        )
    return pm


def pay(sb: Sandbox, invoice: Obj, pm_param: str | None, *, out_of_band: bool = False) -> None:
    if invoice["status"] == "draft":
        finalize(sb, invoice)
        if invoice["status"] == "paid":
            return
    if invoice["status"] == "paid":
        raise invalid("Invoice is already paid", code="invoice_already_paid")
    if invoice["status"] == "void":
        raise invalid("You cannot pay a void invoice.", code="invoice_not_editable")
    if _in_progress(sb, invoice):
        raise invalid(
            "This invoice has a payment in progress; wait for it to succeed or fail.",
            code="invoice_payment_intent_requires_action",
        )
    if out_of_band:
        paid_at = now()
        invoice.update(
            status="paid",
            paid=True,
            paid_out_of_band=True,
            amount_remaining=0,
        )
        invoice["status_transitions"]["paid_at"] = paid_at
        sb.emit("invoice.paid", invoice)
        return
    pm = payment_method_for(sb, invoice, pm_param)
    payments.pay_invoice(sb, invoice, pm)


@router.post("/v1/invoices/{invoice_id}/pay")
async def pay_invoice(invoice_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow(
        "payment_method", "paid_out_of_band",
        ignored=("off_session", "forgive", "source", "mandate"),
    )  # fmt: skip
    invoice = sb.store.get("invoice", invoice_id)
    pay(sb, invoice, p.string("payment_method"), out_of_band=bool(p.boolean("paid_out_of_band")))
    return sb.store.render(invoice, p.expand())


@router.post("/v1/invoices/{invoice_id}/void")
async def void_invoice(invoice_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow()
    invoice = sb.store.get("invoice", invoice_id)
    if invoice["status"] not in ("open", "uncollectible") or _in_progress(sb, invoice):
        raise invalid(
            f"You can only void an open or uncollectible invoice without a payment in progress; "
            f"this one is {invoice['status']}.",
            code="invoice_not_editable",
        )
    invoice["status"] = "void"
    invoice["status_transitions"]["voided_at"] = now()
    if invoice["payment_intent"]:
        pi = sb.store.get("payment_intent", invoice["payment_intent"])
        pi.update(status="canceled", canceled_at=now())
    sb.emit("invoice.voided", invoice)
    return sb.store.render(invoice, p.expand())


@router.post("/v1/invoices/{invoice_id}/mark_uncollectible")
async def mark_uncollectible(invoice_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow()
    invoice = sb.store.get("invoice", invoice_id)
    if invoice["status"] != "open" or _in_progress(sb, invoice):
        raise invalid(
            f"You can only mark an open invoice uncollectible; this one is {invoice['status']}.",
            code="invoice_not_editable",
        )
    invoice["status"] = "uncollectible"
    invoice["status_transitions"]["marked_uncollectible_at"] = now()
    sb.emit("invoice.marked_uncollectible", invoice)
    return sb.store.render(invoice, p.expand())


def advance(sb: Sandbox) -> list[Obj]:
    """Stripe's automatic collection, now: one result per invoice touched."""
    results: list[Obj] = []
    for invoice in reversed(sb.store.all("invoice", lambda o: bool(o["auto_advance"]))):
        due = invoice["status"] == "draft" or (
            invoice["status"] == "open"
            and invoice["collection_method"] == "charge_automatically"
            and not invoice["attempted"]
        )
        if not due:
            continue
        error: str | None = None
        try:
            if invoice["status"] == "draft":
                finalize(sb, invoice)
            if (
                invoice["status"] == "open"
                and invoice["collection_method"] == "charge_automatically"
            ):
                pay(sb, invoice, None)
        except StripeError as exc:
            error = exc.message  # the failed attempt is recorded on the invoice and its events
        results.append({"invoice": invoice["id"], "status": invoice["status"], "error": error})
    return results
