"""Sauvegardes (issue 12): every plan with the age of its last good copy and the share of its
1 TB quota; a practice's plan with its 30-day picture (SVG), checks and restore tests, alerts
and the copies kept."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prisme_chassis import clock

from ..backup_calendar import STATE_LABELS, Run, calendar_svg, day_states
from ..clients import Json, ServiceProblem
from .deps import SignedIn, services_for
from .render import page

router = APIRouter(include_in_schema=False)

PLAN_STATUSES = {"active": "active", "ended": "terminée", "purged": "purgée"}
ALERT_KINDS = {
    "missed": "Copie manquée",
    "failed": "Copie en échec",
    "check_failed": "Contrôle en échec",
    "over_quota": "Quota dépassé",
}


def age(moment: str | None, now: datetime) -> str:
    """``il y a 3 h`` — how old the last good copy is."""
    if not moment:
        return "jamais"
    seconds = (now - datetime.fromisoformat(moment)).total_seconds()
    if seconds < 3600:
        return f"il y a {max(1, int(seconds // 60))} min"
    if seconds < 2 * 86400:
        return f"il y a {int(seconds // 3600)} h"
    return f"il y a {int(seconds // 86400)} jours"


def stale(moment: str | None, now: datetime) -> bool:
    """No good copy for more than a day and a half: the age is shown as an alert."""
    return not moment or (now - datetime.fromisoformat(moment)).total_seconds() > 36 * 3600


def quota_share(plan: Json) -> int:
    used, quota = plan.get("repository_bytes") or 0, plan.get("quota_bytes") or 1
    return min(100, round(100 * int(used) / int(quota)))


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID((text or "").strip())
    except ValueError:
        return None


@router.get("/sauvegardes")
async def backups_page(request: Request, visit: SignedIn) -> Response:
    backup = services_for(request, visit).backup
    client_id = _uuid(request.query_params.get("client_id"))
    plans: list[Json] = []
    alerts: list[Json] = []
    unavailable = None
    try:
        plans, alerts = await asyncio.gather(
            backup.plans(client_id=client_id), backup.alerts(client_id=client_id, open_only=True)
        )
    except ServiceProblem as problem:
        unavailable = problem.message
    now = clock.now()
    plans.sort(key=lambda p: (p.get("status") != "active", str(p.get("client_name"))))
    open_by_plan: dict[str, int] = {}
    for alert in alerts:
        open_by_plan[str(alert["plan_id"])] = open_by_plan.get(str(alert["plan_id"]), 0) + 1
    return page(
        request,
        "backups.html",
        plans=plans,
        alerts=alerts,
        open_by_plan=open_by_plan,
        ages={str(p["id"]): age(p.get("last_success_at"), now) for p in plans},
        stale={str(p["id"]) for p in plans if p.get("status") == "active"
               and stale(p.get("last_success_at"), now)},
        shares={str(p["id"]): quota_share(p) for p in plans},
        statuses=PLAN_STATUSES,
        alert_kinds=ALERT_KINDS,
        filter_client=str(client_id) if client_id else "",
        unavailable=unavailable,
    )  # fmt: skip


@router.get("/sauvegardes/{plan_id}")
async def plan_page(plan_id: uuid.UUID, request: Request, visit: SignedIn) -> Response:
    backup = services_for(request, visit).backup
    try:
        plan = await backup.plan(plan_id)
    except ServiceProblem as problem:
        return page(
            request,
            "refused.html",
            status=problem.status,
            heading="Plan introuvable" if problem.status == 404 else problem.title,
            message=problem.message,
            back="/sauvegardes",
            problem_type=problem.type,
        )
    runs, checks, snapshots, alerts = await asyncio.gather(
        backup.runs(plan_id, limit=120),
        backup.checks(plan_id),
        backup.snapshots(plan_id),
        backup.alerts(client_id=_uuid(str(plan["client_id"]))),
    )
    now = clock.now()
    states = day_states(
        [Run(date.fromisoformat(str(r["day"])), r["status"] == "succeeded") for r in runs],
        today=clock.today(),
        expected_from=date.fromisoformat(str(plan["expected_from"])),
        last_day=date.fromisoformat(str(plan["last_day"])) if plan.get("last_day") else None,
    )
    extra: dict[str, Any] = {}
    return page(
        request,
        "backup_plan.html",
        plan=plan,
        calendar=calendar_svg(states, label=f"30 derniers jours de {plan['client_name']}"),
        legend=STATE_LABELS,
        checks=checks,
        restores=[c for c in checks if c.get("kind") == "restore"],
        integrity=[c for c in checks if c.get("kind") == "integrity"],
        snapshots=sorted(snapshots, key=lambda s: str(s["taken_at"]), reverse=True),
        alerts=[a for a in alerts if str(a.get("plan_id")) == str(plan_id)],
        runs=runs[:10],
        last_age=age(plan.get("last_success_at"), now),
        is_stale=plan.get("status") == "active" and stale(plan.get("last_success_at"), now),
        share=quota_share(plan),
        statuses=PLAN_STATUSES,
        alert_kinds=ALERT_KINDS,
        **extra,
    )
