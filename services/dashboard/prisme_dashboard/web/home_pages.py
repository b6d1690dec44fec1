"""Accueil: the day's work at a glance (issue 12): support hours now (S1), the approvals
waiting for me (O2), non-conforming contracts (C4) and the open alerts of every service."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prisme_chassis import clock, support_hours

from ..clients import Json, Services
from . import labels  # noqa: F401  (registers the labels in the templates)
from .approval_pages import waiting_for_me
from .deps import SignedIn, services_for
from .render import page
from .service_pages import NO_PAGE, has_scope, optional

#: the open alerts of each service shown on the home page (their pages list them all)
HOME_ALERTS = 20

router = APIRouter(include_in_schema=False)

BACKUP_ALERTS = {
    "missed": "Sauvegarde manquée",
    "failed": "Sauvegarde en échec",
    "check_failed": "Contrôle en échec",
    "over_quota": "Quota dépassé",
}


def _next_holiday(today: date) -> tuple[date, str] | None:
    """The next public holiday in Réunion within a year (S1: the support is closed)."""
    for n in range(0, 366):
        day = today + timedelta(days=n)
        name = support_hours.holiday_name(day)
        if name:
            return day, name
    return None


async def first_non_conforming(svc: Services) -> list[Json]:
    """The first 20 active contracts flagged under C4 (one page of contracts-svc's list)."""
    found = await svc.contracts.contracts_page(status="active", non_conforming=True, limit=20)
    rows: list[Json] = found["items"]
    return rows


@router.get("/")
async def home(request: Request, visit: SignedIn) -> Response:
    svc = services_for(request, visit)
    now = clock.now()
    hours = support_hours.current(now)

    async def webhook_alerts() -> list[Json]:
        if not has_scope(visit, "webhooks:read"):
            return []
        page_of: Json = await svc.webhooks.alerts(open_only=True, limit=20)
        items: list[Json] = page_of.get("items", [])
        return items

    (
        waiting,
        (non_conforming, nc_note),
        (backup_page, _),
        (licence_page, _),
        (other_alerts, _),
    ) = await asyncio.gather(
        waiting_for_me(svc, visit),
        optional(first_non_conforming(svc), []),
        # the first of each (newest backup alerts, oldest licence ones): their pages list all
        optional(svc.backup.open_alerts_page(limit=HOME_ALERTS), NO_PAGE),
        optional(svc.licence.alerts_page(limit=HOME_ALERTS), NO_PAGE),
        optional(webhook_alerts(), []),
    )
    backup_alerts: list[Json] = backup_page["items"]
    licence_alerts: list[Json] = licence_page["items"]
    more_alerts = [
        (label, href)
        for label, href, found in (
            ("Toutes les alertes de sauvegarde", "/sauvegardes", backup_page),
            ("Tous les échecs de licence", "/licences", licence_page),
        )
        if found.get("next_cursor")
    ]
    client_ids = {c["client_id"] for c in non_conforming}
    client_ids |= {a["client_id"] for a in backup_alerts} | {a["client_id"] for a in licence_alerts}
    names: dict[str, str] = {}
    if client_ids:
        found, _ = await optional(
            svc.contracts.list_clients(ids=[uuid.UUID(i) for i in sorted(client_ids)][:200]),
            [],
        )
        names = {c["id"]: c["name"] for c in found}
    alerts = (
        [
            {
                "what": BACKUP_ALERTS.get(a["kind"], a["kind"]),
                "client_id": a["client_id"],
                "detail": a["detail"],
                "at": a["raised_at"],
            }
            for a in backup_alerts
        ]
        + [
            {
                "what": "Licence en échec" if a.get("status") == "failed" else "Licence en attente",
                "client_id": a["client_id"],
                "detail": a["alert"],
                "at": None,
            }
            for a in licence_alerts
        ]
        + [
            {"what": a["subject"], "client_id": None, "detail": a["rule"], "at": a["raised_at"]}
            for a in other_alerts
        ]
    )
    return page(
        request,
        "home.html",
        hours=hours,
        now=now,
        holiday=_next_holiday(clock.today()),
        waiting=waiting,
        non_conforming=non_conforming,
        non_conforming_note=nc_note,
        alerts=alerts,
        more_alerts=more_alerts,
        names=names,
    )
