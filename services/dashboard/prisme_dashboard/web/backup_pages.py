"""Sauvegardes (issue 12): every plan with the age of its last good copy and the share of its
1 TB quota; a practice's plan with its 30-day picture (SVG), checks and restore tests, alerts
and the copies kept."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prisme_chassis import clock

from ..backup_calendar import STATE_LABELS, Run, calendar_svg, day_states
from ..clients import Json, ServiceProblem
from .deps import SignedIn, services_for
from .practice_filter import as_uuid, practice_filter
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


#: no good copy for longer than this: the plan's age is shown as an alert
STALE_AFTER = timedelta(hours=36)


def stale(moment: str | None, now: datetime) -> bool:
    """No good copy for more than a day and a half: the age is shown as an alert."""
    return not moment or now - datetime.fromisoformat(moment) > STALE_AFTER


def quota_share(plan: Json) -> int:
    used, quota = plan.get("repository_bytes") or 0, plan.get("quota_bytes") or 1
    return min(100, round(100 * int(used) / int(quota)))


PAGE_SIZE = 50
#: the choices of « Plans »; by default the active plans, those still copied every day
PLAN_FILTERS = {
    "active": "Actifs",
    "en_retard": "Actifs sans copie depuis 36 h",
    "ended": "Terminés",
    "purged": "Purgés",
    "tous": "Tous",
}
#: backup-svc's status of each choice (``tous``: any)
PLAN_STATUS_OF: dict[str, str | None] = {"tous": None, "en_retard": "active"}


@router.get("/sauvegardes")
async def backups_page(request: Request, visit: SignedIn) -> Response:
    """Server-side: a page of 50 plans (« Page suivante » carries backup-svc's cursor), the
    active ones unless asked, of one practice found by name; the newest 50 open alerts."""
    svc = services_for(request, visit)
    params = request.query_params
    chosen = params.get("etat") or "active"
    chosen = chosen if chosen in PLAN_FILTERS else "active"
    cursor = params.get("curseur") or None
    page_number = int(params["page"]) if cursor and params.get("page", "").isdigit() else 1
    practice = await practice_filter(svc, params.get("cabinet") or params.get("client_id"))
    found: Json = {"items": [], "next_cursor": None}
    open_alerts: Json = {"items": [], "next_cursor": None}
    unavailable = gone = None
    now = clock.now()
    if practice.note is None:
        try:
            found, open_alerts = await asyncio.gather(
                svc.backup.plans_page(
                    client_id=practice.client_id,
                    status=PLAN_STATUS_OF.get(chosen, chosen),
                    no_copy_since=now - STALE_AFTER if chosen == "en_retard" else None,
                    limit=PAGE_SIZE,
                    cursor=cursor,
                ),
                svc.backup.open_alerts_page(client_id=practice.client_id, limit=PAGE_SIZE),
            )
        except ServiceProblem as problem:
            unavailable = problem.message
            if problem.status == 422 and cursor:
                unavailable, gone = None, "Cette page n'existe plus : revenez à la première page."
    plans: list[Json] = found["items"]
    alerts: list[Json] = open_alerts["items"]
    open_by_plan: dict[str, int] = {}
    for alert in alerts:
        open_by_plan[str(alert["plan_id"])] = open_by_plan.get(str(alert["plan_id"]), 0) + 1
    return page(
        request,
        "backups.html",
        plans=plans,
        alerts=alerts,
        more_alerts=bool(open_alerts.get("next_cursor")),
        open_by_plan=open_by_plan,
        ages={str(p["id"]): age(p.get("last_success_at"), now) for p in plans},
        stale={str(p["id"]) for p in plans if p.get("status") == "active"
               and stale(p.get("last_success_at"), now)},
        shares={str(p["id"]): quota_share(p) for p in plans},
        statuses=PLAN_STATUSES,
        plan_filters=PLAN_FILTERS,
        chosen=chosen,
        alert_kinds=ALERT_KINDS,
        practice=practice,
        unavailable=unavailable,
        gone=gone,
        page_number=max(1, min(page_number, 100_000)),
        next_cursor=found.get("next_cursor"),
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
        backup.alerts(client_id=as_uuid(str(plan["client_id"]))),
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
