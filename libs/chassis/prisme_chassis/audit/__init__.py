"""The audit trail of the chassis (DESIGN O3): one table, one way to write it, one route.

Every state change of every service writes a row in the transaction of the change::

    from prisme_chassis import audit

    @router.post("/v1/links")
    async def create_link(body: NewLink, conn: Tx, actor: audit.ActorDep,
                          who: Principal = require_scopes("videos:write")) -> LinkOut:
        link = await service.create_link(conn, body)
        await audit.record(conn, actor, "video.link_created", target_type="link",
                           target_id=link.id, client_id=link.client_id, after=link.facts())
        return link

The actor carries the token's ``sub`` and the operator's ``name`` claim (the dashboard puts it
in every token it mints), the caller's address, ``X-Request-ID`` and trace id; schedulers use
``Actor.system("year-end")``, bus handlers ``Actor.event(event)`` (``event:<type>``, the
event's id as request id); a set-based handler builds one :func:`row` per thing changed and
writes them with :func:`record_many` (one INSERT … SELECT, no round trip per row). ``before``, ``after`` and ``detail`` are redacted before they
are stored: a value under a secret-naming key (``password``, ``secret``, ``token``, ``seed``…)
or shaped like one (``whsec_…``, a JWT, a PEM private key) becomes ``[redacted]`` (R5).

Every service serves ``GET /v1/audit`` (:func:`audit_router`, mounted by the app factory).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from opentelemetry import trace

from .. import clock
from ..auth import Principal, authenticate
from . import repository
from .api import AuditEntryOut, AuditPage, audit_router
from .model import REDACTED, Actor, AuditEntry, is_secret_key, redact
from .repository import Filters

__all__ = [
    "REDACTED",
    "Actor",
    "ActorDep",
    "AuditEntry",
    "AuditEntryOut",
    "AuditPage",
    "Filters",
    "audit_router",
    "entries",
    "is_secret_key",
    "record",
    "record_many",
    "redact",
    "request_actor",
    "row",
]

_REQUEST_ID_MAX = 200


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def actor_of(request: Request, principal: Principal) -> Actor:
    """The actor of an authenticated request."""
    request_id = request.headers.get("x-request-id")
    return Actor(
        sub=principal.sub,
        name=principal.name,
        address=request.client.host if request.client else None,
        request_id=request_id[:_REQUEST_ID_MAX] if request_id else None,
        trace_id=_trace_id(),
    )


async def request_actor(
    request: Request, principal: Annotated[Principal, Depends(authenticate)]
) -> Actor:
    """FastAPI dependency: who calls (the token's ``sub`` and ``name``) and from where."""
    return actor_of(request, principal)


#: A route's ``actor: audit.ActorDep`` parameter (the token is verified once per request).
ActorDep = Annotated[Actor, Depends(request_actor)]


def row(
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object = None,
    client_id: uuid.UUID | None = None,
    reason: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The redacted row :func:`record` writes (for set-based writers: :func:`record_many`)."""
    return {
        "at": at or clock.now(),
        "actor": actor.sub,
        "actor_name": actor.name,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "client_id": client_id,
        "reason": reason,
        "address": actor.address,
        "request_id": actor.request_id,
        "trace_id": actor.trace_id or _trace_id(),
        "before": None if before is None else redact(dict(before)),
        "after": None if after is None else redact(dict(after)),
        "detail": redact(dict(detail or {})),
    }


def _require_transaction(conn: asyncpg.Connection) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError("audit.record() must run inside the transaction of the state change")


async def record(
    conn: asyncpg.Connection,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object = None,
    client_id: uuid.UUID | None = None,
    reason: str | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Write one audit row in the caller's transaction (refused outside one: a row must
    commit or roll back with the change it describes).

    ``action`` is past-tense and dotted (``price_book.updated``); ``target_type`` and
    ``target_id`` name what changed; ``client_id`` the practice concerned; ``reason`` why
    (required by O3 for overrides, corrections and approvals: the callers pass it).
    """
    _require_transaction(conn)
    await repository.insert(
        conn,
        [
            row(
                actor,
                action,
                target_type=target_type,
                target_id=target_id,
                client_id=client_id,
                reason=reason,
                before=before,
                after=after,
                detail=detail,
            )
        ],
    )


async def entries(
    conn: asyncpg.Connection,
    filters: Filters,
    *,
    limit: int = 100,
    before_id: int | None = None,
    after_id: int | None = None,
    oldest_first: bool = False,
) -> list[AuditEntry]:
    """Rows of the trail matching ``filters``, newest first (or ``oldest_first``), ids below
    ``before_id`` and above ``after_id``."""
    return await repository.page(
        conn,
        filters,
        before_id=before_id,
        after_id=after_id,
        limit=limit,
        oldest_first=oldest_first,
    )


async def record_many(conn: asyncpg.Connection, rows: list[dict[str, Any]]) -> None:
    """Write rows built by :func:`row` in one statement (one INSERT … SELECT FROM unnest,
    whatever their number), in the caller's transaction."""
    _require_transaction(conn)
    await repository.insert(conn, rows)
