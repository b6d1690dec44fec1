"""Events (for reconciliation jobs) and webhook endpoints."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import JSON, ParamsDep, SandboxDep
from ..errors import invalid, not_found
from ..params import merge_metadata
from ..store import Obj, created_filter
from ..webhooks import Endpoint, new_secret

router = APIRouter()


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith("*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


@router.get("/v1/events/{event_id}")
async def retrieve_event(event_id: str, sb: SandboxDep, p: ParamsDep) -> JSON:
    return sb.store.render(sb.store.get("event", event_id), p.expand())


@router.get("/v1/events")
async def list_events(sb: SandboxDep, p: ParamsDep) -> JSON:
    event_type = p.string("type")
    types = [str(t) for t in p.array("types") or []]
    if event_type and types:
        raise invalid("You may only specify one of these parameters: type, types.", param="types")
    patterns = types or ([event_type] if event_type else [])
    success = p.boolean("delivery_success")
    in_range = created_filter(p)

    def keep(o: Obj) -> bool:
        return (
            (not patterns or any(_type_matches(t, o["type"]) for t in patterns))
            and (success is None or sb.dispatcher.delivered(o["id"]) == success)
            and in_range(o)
        )

    return sb.store.page(sb.store.all("event", keep), p, "/v1/events")


@router.post("/v1/webhook_endpoints")
async def create_webhook_endpoint(sb: SandboxDep, p: ParamsDep) -> JSON:
    p.allow("url", "enabled_events", "description", "metadata", ignored=("api_version", "connect"))
    events = [str(e) for e in p.array("enabled_events") or []]
    if not events:
        raise invalid(
            "Missing required param: enabled_events.",
            code="parameter_missing",
            param="enabled_events",
        )
    ep = Endpoint(
        id=sb.store.new_id("we"),
        url=p.req("url"),
        secret=new_secret(),
        enabled_events=events,
        retry_delays=list(sb.default_retry_delays),
        description=p.string("description"),
        metadata=merge_metadata({}, p.data.get("metadata")),
    )
    sb.dispatcher.endpoints[ep.id] = ep
    return ep.as_object(with_secret=True)


@router.get("/v1/webhook_endpoints/{endpoint_id}")
async def retrieve_webhook_endpoint(endpoint_id: str, sb: SandboxDep) -> JSON:
    ep = sb.dispatcher.endpoints.get(endpoint_id)
    if ep is None:
        raise not_found("webhook endpoint", endpoint_id)
    return ep.as_object()


@router.get("/v1/webhook_endpoints")
async def list_webhook_endpoints(sb: SandboxDep, p: ParamsDep) -> JSON:
    items = [ep.as_object() for ep in reversed(sb.dispatcher.endpoints.values())]
    return sb.store.page(items, p, "/v1/webhook_endpoints")


@router.delete("/v1/webhook_endpoints/{endpoint_id}")
async def delete_webhook_endpoint(endpoint_id: str, sb: SandboxDep) -> JSON:
    if sb.dispatcher.endpoints.pop(endpoint_id, None) is None:
        raise not_found("webhook endpoint", endpoint_id)
    return {"id": endpoint_id, "object": "webhook_endpoint", "deleted": True}
