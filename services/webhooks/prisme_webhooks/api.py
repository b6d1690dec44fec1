"""Routes: endpoints, their messages and attempts (DESIGN.md §4), alerts, support hours."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Query
from prisme_chassis import audit, pagination, support_hours
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.clock import now
from prisme_chassis.errors import NotFound, problems
from prisme_chassis.wire import IsoDatetime
from pydantic import AnyHttpUrl, BaseModel, BeforeValidator, Field, WithJsonSchema

from . import endpoints, repository
from .context import WebhooksRuntimeDep

router = APIRouter(tags=["webhooks"])

READ = "webhooks:read"
WRITE = "webhooks:write"


def _url_length(value: object) -> object:
    # before parsing: a URL of 2000 characters may grow when normalised (percent-encoding)
    if isinstance(value, str) and len(value) > 2000:
        raise ValueError("the URL is longer than 2000 characters")
    return value


#: what the schema states is what the validation takes: http(s), at most 2000 characters
Url = Annotated[
    AnyHttpUrl,
    BeforeValidator(_url_length),
    WithJsonSchema(
        {
            "type": "string",
            "format": "uri",
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
            "minLength": 1,
            "maxLength": 2000,
        }
    ),
]
_ENDPOINT_PROBLEMS = problems(endpoints.UnsafeUrl, endpoints.UnknownEventType)


class NewEndpoint(BaseModel):
    url: Url
    event_types: list[Annotated[str, Field(max_length=100)]] = Field(min_length=1, max_length=50)
    description: str = Field(default="", max_length=500)
    enabled: bool = True


class EndpointChange(BaseModel):
    url: Url | None = None
    event_types: list[Annotated[str, Field(max_length=100)]] | None = Field(
        default=None, min_length=1, max_length=50
    )
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None


class EndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    secret_rotated_until: datetime | None = Field(
        description="while set, the previous secret still signs alongside the current one"
    )
    created_at: datetime
    updated_at: datetime


class NewEndpointOut(EndpointOut):
    secret: str = Field(description="whsec_…: shown this once, keep it")


class RotatedSecret(BaseModel):
    secret: str = Field(description="the new whsec_… secret, shown this once")
    previous_valid_until: datetime


class MessageOut(BaseModel):
    message_id: uuid.UUID
    event_type: str
    occurred_at: datetime
    status: Literal["pending", "success", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> MessageOut:
        return cls(
            message_id=row["message_id"],
            event_type=row["event_type"],
            occurred_at=row["occurred_at"],
            status=row["status"],
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"],
            last_status_code=row["last_status_code"],
            created_at=row["created_at"],
        )


class AttemptOut(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str | None
    trigger: str
    next_attempt_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> AttemptOut:
        return cls(
            id=row["id"],
            endpoint_id=row["endpoint_id"],
            attempted_at=row["attempted_at"],
            status_code=row["status_code"],
            latency_ms=row["latency_ms"],
            response_excerpt=row["response_excerpt"],
            error=row["error"],
            trigger=row["trigger"],
            next_attempt_at=row["next_attempt_at"],
        )


class Queued(BaseModel):
    message_id: uuid.UUID | None = None
    deliveries: int


class Recover(BaseModel):
    since: IsoDatetime


class AlertOut(BaseModel):
    id: uuid.UUID
    rule: str
    urgent: bool
    audience: str
    subject: str
    body: str
    raised_at: datetime
    deliver_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


class SupportHoursOut(BaseModel):
    status: Literal["open", "on_call", "closed"]
    label: str
    until: datetime | None
    next_opening: datetime
    now: datetime


def _endpoint(row: asyncpg.Record) -> dict[str, Any]:
    rotated = row["previous_expires_at"]
    return {
        "id": row["id"],
        "url": row["url"],
        "description": row["description"],
        "event_types": list(row["event_types"]),
        "enabled": row["enabled"],
        "disabled_reason": row["disabled_reason"],
        "failing_since": row["failing_since"],
        "secret_rotated_until": rotated if rotated is not None and rotated > now() else None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _facts(endpoint: dict[str, Any]) -> dict[str, Any]:
    """What the trail keeps of an endpoint (its URL, filters, state; never a secret)."""
    keep = ("url", "description", "event_types", "enabled", "disabled_reason")
    return {k: endpoint[k] for k in keep if k in endpoint}


@router.post("/v1/endpoints", status_code=201, responses=_ENDPOINT_PROBLEMS)
async def create_endpoint(
    body: NewEndpoint,
    conn: Tx,
    rt: WebhooksRuntimeDep,
    actor: audit.ActorDep,
    who: Principal = require_scopes(WRITE),
) -> NewEndpointOut:
    """Subscribe a URL to event types; the signing secret is in this answer only."""
    row, secret = await endpoints.create(
        conn,
        rt.context,
        url=str(body.url),
        event_types_=body.event_types,
        description=body.description,
        enabled=body.enabled,
        actor=who.sub,
    )
    facts = _endpoint(row)
    # the secret is in the answer only, never in the trail (R5)
    await audit.record(
        conn,
        actor,
        "endpoint.created",
        target_type="endpoint",
        target_id=row["id"],
        after=_facts(facts),
    )
    return NewEndpointOut(**facts, secret=secret)


@router.get("/v1/endpoints", responses=problems(pagination.InvalidCursor))
async def list_endpoints(
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[EndpointOut]:
    """The endpoints, oldest id first (a keyset page)."""
    after = pagination.decode(cursor, uuid.UUID)
    rows = await repository.list_endpoints(conn, after=after, limit=limit + 1)
    return pagination.Page[EndpointOut].of(
        rows, limit, key=lambda r: (r["id"],), out=lambda r: EndpointOut(**_endpoint(r))
    )


@router.get("/v1/endpoints/{endpoint_id}")
async def get_endpoint(
    endpoint_id: uuid.UUID, conn: Tx, who: Principal = require_scopes(READ)
) -> EndpointOut:
    return EndpointOut(**_endpoint(await endpoints.get(conn, endpoint_id)))


@router.patch("/v1/endpoints/{endpoint_id}", responses=_ENDPOINT_PROBLEMS)
async def change_endpoint(
    endpoint_id: uuid.UUID,
    body: EndpointChange,
    conn: Tx,
    rt: WebhooksRuntimeDep,
    actor: audit.ActorDep,
    who: Principal = require_scopes(WRITE),
) -> EndpointOut:
    changes = body.model_dump(exclude_none=True)
    if "url" in changes:
        changes["url"] = str(changes["url"])
    before = _facts(_endpoint(await endpoints.get(conn, endpoint_id)))
    row = await endpoints.change(conn, rt.context, endpoint_id, changes)
    after = _facts(_endpoint(row))
    await audit.record(
        conn,
        actor,
        "endpoint.changed",
        target_type="endpoint",
        target_id=endpoint_id,
        before={k: before[k] for k in changes if k in before},
        after={k: after[k] for k in changes if k in after},
    )
    return EndpointOut(**_endpoint(row))


@router.delete("/v1/endpoints/{endpoint_id}", status_code=204)
async def delete_endpoint(
    endpoint_id: uuid.UUID, conn: Tx, actor: audit.ActorDep, who: Principal = require_scopes(WRITE)
) -> None:
    before = _facts(_endpoint(await endpoints.get(conn, endpoint_id)))
    await endpoints.delete(conn, endpoint_id)
    await audit.record(
        conn,
        actor,
        "endpoint.deleted",
        target_type="endpoint",
        target_id=endpoint_id,
        before=before,
    )


@router.post("/v1/endpoints/{endpoint_id}/rotate-secret")
async def rotate_secret(
    endpoint_id: uuid.UUID,
    conn: Tx,
    rt: WebhooksRuntimeDep,
    actor: audit.ActorDep,
    who: Principal = require_scopes(WRITE),
) -> RotatedSecret:
    """A new secret; deliveries carry both signatures until ``previous_valid_until`` (24 h)."""
    secret, until = await endpoints.rotate(conn, rt.context, endpoint_id)
    await audit.record(
        conn,
        actor,
        "endpoint.secret_rotated",
        target_type="endpoint",
        target_id=endpoint_id,
        detail={"previous_valid_until": until},
    )
    return RotatedSecret(secret=secret, previous_valid_until=until)


@router.post("/v1/endpoints/{endpoint_id}/test", status_code=202)
async def send_test(
    endpoint_id: uuid.UUID,
    conn: Tx,
    rt: WebhooksRuntimeDep,
    actor: audit.ActorDep,
    who: Principal = require_scopes(WRITE),
) -> Queued:
    """Send a ``webhook.test`` message to this endpoint."""
    message_id = await endpoints.send_test(conn, rt.context, endpoint_id)
    await audit.record(
        conn,
        actor,
        "endpoint.test_sent",
        target_type="endpoint",
        target_id=endpoint_id,
        detail={"message_id": message_id},
    )
    return Queued(message_id=message_id, deliveries=1)


@router.post("/v1/endpoints/{endpoint_id}/recover", status_code=202)
async def recover(
    endpoint_id: uuid.UUID,
    body: Recover,
    conn: Tx,
    rt: WebhooksRuntimeDep,
    actor: audit.ActorDep,
    who: Principal = require_scopes(WRITE),
) -> Queued:
    """Re-send every message that failed for this endpoint since ``since``."""
    count = await endpoints.recover(conn, rt.context, endpoint_id, body.since)
    await audit.record(
        conn,
        actor,
        "endpoint.recovered",
        target_type="endpoint",
        target_id=endpoint_id,
        detail={"since": body.since, "deliveries": count},
    )
    return Queued(deliveries=count)


@router.get("/v1/endpoints/{endpoint_id}/messages", responses=problems(pagination.InvalidCursor))
async def endpoint_messages(
    endpoint_id: uuid.UUID,
    conn: Tx,
    status: Literal["pending", "success", "failed"] | None = None,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[MessageOut]:
    """The endpoint's messages, newest first (a keyset page on when and which message: the
    messages of one event batch share their time)."""
    before = pagination.decode(cursor, pagination.moment, uuid.UUID)
    await endpoints.get(conn, endpoint_id)
    rows = await repository.endpoint_messages(
        conn, endpoint_id, status=status, before=before, limit=limit + 1
    )
    return pagination.Page[MessageOut].of(
        rows,
        limit,
        key=lambda r: (r["created_at"], r["message_id"]),
        out=MessageOut.of,
    )


@router.get("/v1/messages/{message_id}/attempts", responses=problems(pagination.InvalidCursor))
async def message_attempts(
    message_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[AttemptOut]:
    """The attempts, oldest first: status code, latency, the first KiB of the answer, the
    next attempt (a keyset page)."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    if not await repository.message_exists(conn, message_id):
        raise NotFound(f"no message {message_id}")
    rows = await repository.attempts_of(conn, message_id, after=after, limit=limit + 1)
    return pagination.Page[AttemptOut].of(
        rows,
        limit,
        key=lambda r: (r["attempted_at"], r["id"]),
        out=AttemptOut.of,
    )


@router.post("/v1/messages/{message_id}/resend", status_code=202)
async def resend(
    message_id: uuid.UUID,
    conn: Tx,
    rt: WebhooksRuntimeDep,
    actor: audit.ActorDep,
    endpoint_id: uuid.UUID | None = None,
    who: Principal = require_scopes(WRITE),
) -> Queued:
    """Send the message again (same ``webhook-id``) to its endpoints, or to one of them."""
    count = await endpoints.resend(conn, rt.context, message_id, endpoint_id)
    await audit.record(
        conn,
        actor,
        "message.resent",
        target_type="message",
        target_id=message_id,
        detail={"endpoint_id": endpoint_id, "deliveries": count},
    )
    return Queued(message_id=message_id, deliveries=count)


@router.get("/v1/alerts", responses=problems(pagination.InvalidCursor))
async def list_alerts(
    conn: Tx,
    open_only: bool = Query(default=False, alias="open"),
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes(READ),
) -> pagination.Page[AlertOut]:
    """The alerts, newest first (a keyset page)."""
    before = pagination.decode(cursor, pagination.moment, uuid.UUID)
    rows = await repository.list_alerts(conn, open_only=open_only, limit=limit + 1, before=before)
    return pagination.Page[AlertOut].of(
        rows,
        limit,
        key=lambda r: (r["raised_at"], r["id"]),
        out=lambda r: AlertOut(**{k: r[k] for k in AlertOut.model_fields}),
    )


@router.post("/v1/alerts/{alert_id}/acknowledge")
async def acknowledge(
    alert_id: uuid.UUID, conn: Tx, actor: audit.ActorDep, who: Principal = require_scopes(WRITE)
) -> AlertOut:
    """Mark an alert as handled: it leaves the daily digest."""
    row = await repository.acknowledge_alert(conn, alert_id, who.sub, now())
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    await audit.record(conn, actor, "alert.acknowledged", target_type="alert", target_id=alert_id)
    return AlertOut(**{k: row[k] for k in AlertOut.model_fields})


@router.get("/v1/support-hours")
async def support_hours_now(who: Principal = require_scopes(READ)) -> SupportHoursOut:
    """S1 now: open, on call or closed, until when, and the next opening."""
    moment = now()
    current = support_hours.current(moment)
    return SupportHoursOut(
        status=current.status,
        label=current.label,
        until=current.until,
        next_opening=current.next_opening,
        now=moment,
    )
