"""Licences Microsoft 365 (issue 12): accounts per practice and status, failures with the
Graph error and a retry of the dead Graph job, seats used per SKU, and the one-time reveal of an
initial password (a confirmation first; shown once with a copy button; audited here, by the
dashboard, under the operator's name — never the password itself)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis import audit
from prisme_chassis.app import Tx

from ..clients import Json, ServiceProblem
from .deps import GuardedForm, SignedIn, Visit, services_for
from .render import page
from .signin_pages import actor_of

router = APIRouter(include_in_schema=False)

ACCOUNT_STATUSES = {
    "pending": "en cours",
    "active": "actif",
    "revoked": "retiré",
    "failed": "en échec",
}
CREDENTIAL_STATES = {
    "none": "—",
    "available": "à transmettre",
    "read": "déjà lu",
    "expired": "expiré",
}
Filter = Annotated[str | None, Query(max_length=100)]


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID((text or "").strip())
    except ValueError:
        return None


def seats_by_sku(accounts: list[Json]) -> list[tuple[str, int, int]]:
    """(SKU, seats in use, accounts still being provisioned) — revoked and failed hold none."""
    used = Counter(str(a["sku"]) for a in accounts if a.get("status") == "active")
    pending = Counter(str(a["sku"]) for a in accounts if a.get("status") == "pending")
    return [(sku, used[sku], pending[sku]) for sku in sorted(set(used) | set(pending))]


def _dead_jobs_by_user(jobs: list[Json]) -> dict[str, Json]:
    """The dead Graph job of each user (its key names the user: ``provision:<user>:…``)."""
    found: dict[str, Json] = {}
    for job in jobs:
        parts = str(job.get("key", "")).split(":")
        if len(parts) >= 2 and str(job.get("kind", "")).startswith("licence."):
            found.setdefault(parts[1], job)
    return found


async def _licences_page(
    request: Request,
    visit: Visit,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    revealed: Json | None = None,
) -> Response:
    licence = services_for(request, visit).licence
    client_id = _uuid(request.query_params.get("client_id"))
    wanted = request.query_params.get("status") or None
    accounts: list[Json] = []
    dead: list[Json] = []
    unavailable = None
    try:
        accounts = await licence.accounts(client_id=client_id)
    except ServiceProblem as problem:
        unavailable = problem.message
    try:
        items = (await licence.jobs(state="dead")).get("items")
        dead = [j for j in items if isinstance(j, dict)] if isinstance(items, list) else []
    except ServiceProblem:
        dead = []  # the failures still show with their Graph error, without a retry
    shown = [a for a in accounts if wanted in (None, a.get("status"))]
    shown.sort(key=lambda a: (str(a.get("client_id")), str(a.get("upn"))))
    return page(
        request,
        "licences.html",
        status=status,
        accounts=shown,
        failures=[a for a in accounts if a.get("status") == "failed" or a.get("alert")],
        jobs_by_user=_dead_jobs_by_user(dead),
        seats=seats_by_sku(accounts),
        counts=Counter(str(a.get("status")) for a in accounts),
        statuses=ACCOUNT_STATUSES,
        credential_states=CREDENTIAL_STATES,
        filter_client=str(client_id) if client_id else "",
        filter_status=wanted or "",
        unavailable=unavailable,
        errors=errors or [],
        revealed=revealed,
    )


@router.get("/licences")
async def licences_page(request: Request, visit: SignedIn) -> Response:
    return await _licences_page(request, visit)


@router.get("/licences/comptes/{account_id}/mot-de-passe")
async def confirm_reveal(account_id: uuid.UUID, request: Request, visit: SignedIn) -> Response:
    """The confirmation before the one-time reveal (a GET never reveals anything)."""
    accounts = await services_for(request, visit).licence.accounts()
    account = next((a for a in accounts if str(a.get("id")) == str(account_id)), None)
    return page(request, "licence_reveal.html", account=account, account_id=account_id)


@router.post("/licences/comptes/{account_id}/mot-de-passe")
async def reveal(account_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm) -> Response:
    try:
        found = await services_for(request, visit).licence.reveal_password(account_id)
    except ServiceProblem as problem:
        message = (
            "Ce mot de passe a déjà été lu ou a expiré : il ne peut plus être affiché."
            if problem.status == 410
            else problem.message
        )
        return await _licences_page(request, visit, status=problem.status, errors=[message])
    await audit.record(
        conn,
        actor_of(request, visit.operator),
        "licence.initial_password_revealed",
        target_type="licence_account",
        target_id=account_id,
        detail={"upn": found.get("upn")},
    )
    # shown on this response only (licence-svc answers 410 to any later call)
    return await _licences_page(request, visit, revealed=found)


@router.post("/licences/taches/{job_id}/relancer")
async def retry(
    job_id: Annotated[int, Path(ge=1, le=2**63 - 1)], request: Request, visit: GuardedForm
) -> Response:
    try:
        await services_for(request, visit).licence.retry_job(job_id)
    except ServiceProblem as problem:
        return await _licences_page(
            request, visit, status=problem.status, errors=[f"Relance refusée : {problem.message}"]
        )
    return RedirectResponse("/licences?ok=licence_retried", status_code=303)
