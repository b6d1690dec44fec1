"""Licences Microsoft 365 (issue 12): accounts per practice and status, failures with the
Graph error and a retry of the dead Graph job, seats used per SKU, and the one-time reveal of an
initial password (a confirmation first; shown once with a copy button; audited here, by the
dashboard, under the operator's name — never the password itself)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis import audit
from prisme_chassis.app import Tx

from ..clients import Json, ServiceProblem
from .deps import GuardedForm, SignedIn, Visit, services_for
from .practice_filter import practice_filter
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


PAGE_SIZE = 50


def seats_by_sku(summary: Json) -> list[tuple[str, int, int]]:
    """(SKU, seats in use, accounts still being provisioned) from licence-svc's counts —
    revoked and failed accounts hold none."""
    rows = summary.get("by_sku")
    return [
        (str(r["sku"]), int(r.get("active", 0)), int(r.get("pending", 0)))
        for r in (rows if isinstance(rows, list) else [])
        if r.get("active") or r.get("pending")
    ]


def graph_said(error: str) -> str:
    """A Graph job's last error without the reason code licence-svc puts first
    (``graph_unavailable: Graph a répondu 503 : …``): the alert beside it says the reason."""
    head, sep, rest = error.partition(": ")
    return rest if sep and re.fullmatch(r"[a-z][a-z_]*", head) else error


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
    """Server-side: the counts, one page of 50 accounts (« Page suivante » carries
    licence-svc's cursor), the oldest 50 failures (of the practice asked); practices shown by
    their name."""
    svc = services_for(request, visit)
    licence = svc.licence
    params = request.query_params
    wanted = params.get("status") if params.get("status") in ACCOUNT_STATUSES else None
    cursor = params.get("curseur") or None
    page_number = int(params["page"]) if cursor and params.get("page", "").isdigit() else 1
    practice = await practice_filter(svc, params.get("cabinet") or params.get("client_id"))
    client_id = practice.client_id
    found: Json = {"items": [], "next_cursor": None}
    summary: Json = {"by_sku": [], "total": {}}
    failures: Json = {"items": [], "next_cursor": None}
    dead: list[Json] = []
    unavailable = gone = None
    if practice.note is None:
        try:
            found, summary, failures = await asyncio.gather(
                licence.accounts_page(
                    client_id=client_id, status=wanted, limit=PAGE_SIZE, cursor=cursor
                ),
                licence.summary(client_id=client_id),
                licence.alerts_page(client_id=client_id, limit=PAGE_SIZE),
            )
        except ServiceProblem as problem:
            unavailable = problem.message
            if problem.status == 422 and cursor:
                unavailable, gone = None, "Cette page n'existe plus : revenez à la première page."
    try:
        items = (await licence.jobs(state="dead")).get("items")
        dead = [j for j in items if isinstance(j, dict)] if isinstance(items, list) else []
    except ServiceProblem:
        dead = []  # the failures still show with their Graph error, without a retry
    accounts: list[Json] = found["items"]
    failed: list[Json] = failures["items"]
    try:
        names = await svc.contracts.names_of(
            [a["client_id"] for a in accounts] + [a["client_id"] for a in failed]
        )
    except ServiceProblem:
        names = {}  # the short id stays, as a link to the practice
    total = summary.get("total")
    return page(
        request,
        "licences.html",
        status=status,
        accounts=accounts,
        failures=failed,
        more_failures=bool(failures.get("next_cursor")),
        names=names,
        jobs_by_user=_dead_jobs_by_user(dead),
        graph_said=graph_said,
        seats=seats_by_sku(summary),
        counts=total if isinstance(total, dict) else {},
        statuses=ACCOUNT_STATUSES,
        credential_states=CREDENTIAL_STATES,
        practice=practice,
        filter_status=wanted or "",
        unavailable=unavailable,
        gone=gone,
        page_number=max(1, min(page_number, 100_000)),
        next_cursor=found.get("next_cursor"),
        errors=errors or [],
        revealed=revealed,
    )


@router.get("/licences")
async def licences_page(request: Request, visit: SignedIn) -> Response:
    return await _licences_page(request, visit)


@router.get("/licences/comptes/{account_id}/mot-de-passe")
async def confirm_reveal(account_id: uuid.UUID, request: Request, visit: SignedIn) -> Response:
    """The confirmation before the one-time reveal (a GET never reveals anything)."""
    try:
        account: Json | None = await services_for(request, visit).licence.account(account_id)
    except ServiceProblem as problem:
        if problem.status != 404:
            raise
        account = None
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
