"""Journal d'audit (issue 12, O3): the trail of every service in one view, filtered by
operator, practice, action and dates. Each service's ``GET /v1/audit`` (the chassis' route) is
asked with the same filters, as the signed-in operator, the dashboard's own trail is read from
its database; the newest entries of all come first, and « Plus anciens » continues before the
oldest one shown."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prisme_chassis import audit
from prisme_chassis.app import Tx
from prisme_chassis.audit.repository import Filters
from prisme_chassis.clock import REUNION

from .. import operators
from ..clients import ServiceClient, ServiceProblem
from ..clients.base import SERVICE_LABELS
from .deps import SignedIn, services_for
from .render import page

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID((text or "").strip())
    except ValueError:
        return None


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None


def _instant(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def bounds(
    since_day: date | None, until_day: date | None, before: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """Réunion calendar days to instants: from the start of ``since_day`` to the end of
    ``until_day``, and never at or after ``before`` (the page's oldest entry)."""
    since = datetime.combine(since_day, time.min, REUNION) if since_day else None
    until = (
        datetime.combine(until_day + timedelta(days=1), time.min, REUNION)
        - timedelta(microseconds=1)
        if until_day
        else None
    )
    if before is not None:
        just_before = before - timedelta(microseconds=1)
        until = just_before if until is None else min(until, just_before)
    return since, until


async def _service_entries(
    client: ServiceClient, params: dict[str, str | None]
) -> tuple[list[dict[str, Any]], str | None]:
    try:
        answer = await client.audit_trail({**params, "limit": PAGE_SIZE})
    except ServiceProblem as problem:
        label = SERVICE_LABELS.get(client.name, client.name)
        return [], f"{label.capitalize()} : {problem.message}"
    items = answer.get("items")
    rows = (
        [dict(i, service=client.name) for i in items if isinstance(i, dict)]
        if isinstance(items, list)
        else []
    )
    return rows, None


@router.get("/journal")
async def audit_page(request: Request, conn: Tx, visit: SignedIn) -> Response:
    q = request.query_params
    people = await operators.list_all(conn)
    actor = q.get("operateur") or None
    if actor is not None and actor not in {str(p.id) for p in people}:
        actor = None
    client_id = _uuid(q.get("client_id"))
    action = (q.get("action") or "").strip()[:200] or None
    since_day, until_day = _day(q.get("du")), _day(q.get("au"))
    since, until = bounds(since_day, until_day, _instant(q.get("avant")))
    params: dict[str, str | None] = {
        "actor": actor,
        "client_id": str(client_id) if client_id else None,
        "action": action,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    answers = await asyncio.gather(
        *(_service_entries(c, params) for c in services_for(request, visit).each())
    )
    own = await audit.entries(
        conn,
        Filters(actor=actor, action=action, client_id=client_id, since=since, until=until),
        limit=PAGE_SIZE,
    )
    rows: list[dict[str, Any]] = [
        {
            "service": "dashboard",
            "at": e.at.isoformat(),
            "actor": e.actor,
            "actor_name": e.actor_name,
            "action": e.action,
            "target_type": e.target_type,
            "target_id": e.target_id,
            "client_id": e.client_id,
            "reason": e.reason,
            "address": e.address,
            "detail": dict(e.detail),
        }
        for e in own
    ]
    refused = []
    for found, note in answers:
        rows += found
        if note:
            refused.append(note)
    rows.sort(key=lambda r: str(r["at"]), reverse=True)
    shown = rows[:PAGE_SIZE]
    older = shown[-1]["at"] if len(rows) > PAGE_SIZE and shown else None
    labels = {**SERVICE_LABELS, "dashboard": "tableau de bord"}
    return page(
        request,
        "audit.html",
        rows=shown,
        older=str(older) if older else None,
        refused=refused,
        people=people,
        labels=labels,
        filters={
            "operateur": actor or "",
            "client_id": str(client_id) if client_id else "",
            "action": action or "",
            "du": str(since_day) if since_day else "",
            "au": str(until_day) if until_day else "",
        },
    )
