"""``/_sandbox/*``: webhook configuration, failure switches, SEPA outcomes, replays, reset."""

from __future__ import annotations

import html
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, ValidationError

from .deps import JSON, SandboxDep
from .errors import invalid, not_found
from .resources import invoice_actions, payments
from .switches import Switches
from .webhooks import DEFAULT_ENDPOINT_ID, new_secret

router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])


class WebhookConfig(BaseModel):
    url: str
    secret: str | None = None
    retry_delays: list[float] | None = None
    enabled_events: list[str] = Field(default_factory=lambda: ["*"])


class FailBody(BaseModel):
    failure_code: str = "insufficient_funds"


class RedeliverBody(BaseModel):
    timestamp: int | None = None
    secret: str | None = None
    unsigned: bool = False


class ReleaseBody(BaseModel):
    order: Literal["fifo", "reverse"] = "fifo"


@router.get("/health")
async def health() -> JSON:
    return {"status": "ok"}


def _default_endpoint(sb: SandboxDep) -> JSON:
    ep = sb.dispatcher.endpoints.get(DEFAULT_ENDPOINT_ID)
    if ep is None:
        return {"url": None, "secret": None, "retry_delays": sb.default_retry_delays}
    return {
        "id": ep.id,
        "url": ep.url,
        "secret": ep.secret,
        "retry_delays": ep.retry_delays,
        "enabled_events": ep.enabled_events,
    }


@router.get("/webhook")
async def get_webhook(sb: SandboxDep) -> JSON:
    return _default_endpoint(sb)


@router.put("/webhook")
async def put_webhook(body: WebhookConfig, sb: SandboxDep) -> JSON:
    sb.set_default_endpoint(
        body.url,
        body.secret or new_secret(),
        retry_delays=body.retry_delays,
        enabled_events=body.enabled_events,
    )
    return _default_endpoint(sb)


@router.delete("/webhook")
async def delete_webhook(sb: SandboxDep) -> JSON:
    sb.dispatcher.endpoints.pop(DEFAULT_ENDPOINT_ID, None)
    return _default_endpoint(sb)


@router.get("/switches")
async def get_switches(sb: SandboxDep) -> JSON:
    return sb.switches.model_dump()


@router.post("/switches")
async def set_switches(body: dict[str, Any], sb: SandboxDep) -> JSON:
    unknown = sorted(set(body) - set(Switches.model_fields))
    if unknown:
        raise invalid(f"Unknown switches: {', '.join(unknown)}", code="parameter_unknown")
    try:
        merged = Switches.model_validate({**sb.switches.model_dump(), **body})
    except ValidationError as exc:
        raise invalid(f"Invalid switches: {exc.errors()}", code="parameter_invalid") from None
    for name in body:
        setattr(sb.switches, name, getattr(merged, name))
    return sb.switches.model_dump()


@router.post("/payments/{obj_id}/settle")
async def settle_payment(obj_id: str, sb: SandboxDep) -> JSON:
    return sb.store.render(payments.settle(sb, obj_id))


@router.post("/payments/{obj_id}/fail")
async def fail_payment(obj_id: str, sb: SandboxDep, body: FailBody | None = None) -> JSON:
    code = (body or FailBody()).failure_code
    return sb.store.render(payments.fail(sb, obj_id, code))


@router.post("/advance")
async def advance(sb: SandboxDep) -> JSON:
    return {"invoices": invoice_actions.advance(sb)}


@router.post("/events/{event_id}/redeliver")
async def redeliver(event_id: str, sb: SandboxDep, body: RedeliverBody | None = None) -> JSON:
    body = body or RedeliverBody()
    event = sb.store.find(event_id)
    if event is None or event.get("object") != "event":
        raise not_found("event", event_id)
    count = sb.dispatcher.redeliver(
        event, timestamp=body.timestamp, secret=body.secret, unsigned=body.unsigned
    )
    return {"event": event_id, "endpoints": count}


@router.post("/webhooks/release")
async def release(sb: SandboxDep, body: ReleaseBody | None = None) -> JSON:
    return {"released": sb.dispatcher.release((body or ReleaseBody()).order)}


@router.get("/deliveries")
async def deliveries(sb: SandboxDep, event_id: str | None = None) -> JSON:
    rows = [d for d in sb.dispatcher.deliveries if event_id is None or d["event_id"] == event_id]
    return {"data": rows}


@router.get("/requests")
async def requests(sb: SandboxDep) -> JSON:
    return {"data": list(sb.requests)}


@router.post("/reset")
async def reset(sb: SandboxDep) -> JSON:
    sb.reset()
    await sb.dispatcher.settle_cancelled()
    return {"status": "reset"}


@router.get("/hosted/{invoice_id}", response_class=HTMLResponse)
async def hosted_invoice(invoice_id: str, sb: SandboxDep) -> str:
    """A bare stand-in for Stripe's hosted invoice page."""
    inv = sb.store.get("invoice", invoice_id)
    return (
        f"<html><body><h1>Invoice {html.escape(str(inv['number']))}</h1>"
        f"<p>Status: {html.escape(inv['status'])}</p>"
        f"<p>Amount due: {inv['amount_due'] / 100:.2f} {html.escape(inv['currency'].upper())}</p>"
        "</body></html>"
    )
