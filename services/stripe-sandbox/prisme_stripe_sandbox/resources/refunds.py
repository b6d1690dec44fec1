"""Refunds of a succeeded charge, partial or full."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import JSON, ParamsDep, SandboxDep
from ..errors import invalid
from ..params import merge_metadata
from ..sandbox import Sandbox
from ..store import Obj, now, random_token

router = APIRouter()

_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}


def _charge_of(sb: Sandbox, charge_id: str | None, pi_id: str | None) -> Obj:
    if charge_id and pi_id:
        raise invalid(
            "You may only specify one of these parameters: charge, payment_intent.",
            code="parameter_invalid",
            param="payment_intent",
        )
    if charge_id:
        return sb.store.get("charge", charge_id, param="charge")
    if pi_id:
        pi = sb.store.get("payment_intent", pi_id, param="payment_intent")
        if not pi["latest_charge"]:
            raise invalid(
                f"PaymentIntent {pi_id} has no charge to refund.",
                code="charge_not_refundable",
                param="payment_intent",
            )
        return sb.store.get("charge", pi["latest_charge"])
    raise invalid("Missing required param: charge.", code="parameter_missing", param="charge")


def refund(sb: Sandbox, charge: Obj, amount: int | None, reason: str | None, metadata: Obj) -> Obj:
    if charge["status"] != "succeeded":
        raise invalid(
            f"Charge {charge['id']} cannot be refunded: its status is {charge['status']}.",
            code="charge_not_refundable",
            param="charge",
        )
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise invalid(
            f"Charge {charge['id']} has already been refunded.",
            code="charge_already_refunded",
            param="charge",
        )
    if amount is None:
        amount = remaining
    if amount <= 0:
        raise invalid("Invalid positive integer", code="parameter_invalid_integer", param="amount")
    if amount > remaining:
        raise invalid(
            f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
            code="amount_too_large",
            param="amount",
        )
    obj: Obj = {
        "id": sb.store.new_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": f"txn_{random_token()}",
        "charge": charge["id"],
        "created": now(),
        "currency": charge["currency"],
        "metadata": metadata,
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "receipt_number": None,
        "status": "succeeded",
    }
    sb.store.add(obj)
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount"]
    refunds = charge["refunds"]
    refunds["data"].insert(0, dict(obj))
    refunds["total_count"] = len(refunds["data"])
    sb.emit("refund.created", obj)
    sb.emit("charge.refunded", charge, previous)
    return obj


@router.post("/v1/refunds")
async def create_refund(sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow(
        "charge", "payment_intent", "amount", "reason", "metadata",
        ignored=("instructions_email", "refund_application_fee", "reverse_transfer", "origin"),
    )  # fmt: skip
    charge = _charge_of(sb, p.string("charge"), p.string("payment_intent"))
    reason = p.string("reason")
    if reason is not None and reason not in _REASONS:
        raise invalid(f"Invalid reason: {reason}", code="parameter_invalid", param="reason")
    metadata = merge_metadata({}, p.data.get("metadata"))
    created = refund(sb, charge, p.integer("amount"), reason, metadata)
    return sb.store.render(created, p.expand())


@router.get("/v1/refunds/{refund_id}")
async def retrieve_refund(refund_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    return sb.store.render(sb.store.get("refund", refund_id), p.expand())


@router.post("/v1/refunds/{refund_id}")
async def update_refund(refund_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow("metadata")
    obj = sb.store.get("refund", refund_id)
    previous = {"metadata": dict(obj["metadata"])}
    obj["metadata"] = merge_metadata(obj["metadata"], p.data.get("metadata"))
    sb.emit("refund.updated", obj, previous)
    return sb.store.render(obj, p.expand())


@router.get("/v1/refunds")
async def list_refunds(sb: SandboxDep, p: ParamsDep) -> JSON:
    charge = p.string("charge")
    pi = p.string("payment_intent")
    items = sb.store.all(
        "refund",
        lambda o: (
            (charge is None or o["charge"] == charge) and (pi is None or o["payment_intent"] == pi)
        ),
    )
    return sb.store.page(items, p, "/v1/refunds")
