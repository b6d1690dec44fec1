"""Contrats: the list by year, status, offer and conformity, and the year-end run with its
live progress (issue 12)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis import clock
from pydantic import ValidationError

from ..clients import (
    ContractEndConsumer,
    ContractsClient,
    Json,
    ServiceProblem,
    Services,
    YearEndEffects,
)
from . import labels
from .deps import GuardedForm, SignedIn, services_for
from .render import NOTICES, fragment, page
from .service_pages import Refusal, Svc
from .year_end_progress import YearEndProgress, progress_of

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
NOTICES.update(year_end_started="La clôture de l'année est lancée : sa progression s'affiche ici.")


def _bool(value: str | None) -> bool | None:
    return {"1": True, "true": True, "0": False, "false": False}.get((value or "").lower())


@router.get("/contrats")
async def contract_list(
    request: Request,
    visit: SignedIn,
    svc: Svc,
    year: Annotated[str | None, Query(alias="annee", max_length=4)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    offer: Annotated[str | None, Query(max_length=50)] = None,
    non_conforming: Annotated[str | None, Query(max_length=5)] = None,
    cursor: Annotated[str | None, Query(alias="curseur", max_length=200)] = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    """Server-side pages of 50; « Page suivante » follows contracts-svc's cursor."""
    page_number = page_number if cursor else 1
    chosen_year = int(year) if year and year.isdigit() and len(year) == 4 else None
    chosen_status = status if status in labels.CONTRACT_STATUSES else None
    offers = await svc.contracts.offers()
    chosen_offer = offer if offer in {o["code"] for o in offers} else None
    found: Json = {"items": [], "next_cursor": None}
    gone = None
    try:
        found = await svc.contracts.contracts_page(
            year=chosen_year,
            status=chosen_status,
            offer=chosen_offer,
            non_conforming=_bool(non_conforming),
            limit=PAGE_SIZE,
            cursor=cursor,
        )
    except ServiceProblem as problem:
        if problem.status != 422 or not cursor:
            raise
        gone = "Cette page n'existe plus : revenez à la première page."
    contracts = found["items"]
    names = await svc.contracts.names_of(c["client_id"] for c in contracts)
    this_year = clock.today().year
    return page(
        request,
        "contracts.html",
        contracts=contracts,
        names=names,
        offers=offers,
        years=list(range(this_year + 1, this_year - 5, -1)),
        chosen={
            "annee": chosen_year,
            "status": chosen_status,
            "offer": chosen_offer,
            "non_conforming": non_conforming or "",
        },
        page_number=page_number,
        next_cursor=found["next_cursor"],
        gone=gone,
    )


# --- the year-end run -------------------------------------------------------------------------

#: the runs this dashboard started (year → task); the progress itself is read from the service
_RUNS: dict[int, asyncio.Task[Json]] = {}


def _why(problem: ServiceProblem) -> str:
    if problem.status in (401, 403):
        return "Vos droits ne permettent pas de voir cette partie."
    return problem.message


async def _run(contracts: ContractsClient, year: int) -> tuple[Json | None, str | None]:
    try:
        return await contracts.year_end(year), None
    except ServiceProblem as problem:
        return None, _why(problem)


async def _effects(
    service: ContractEndConsumer, year: int
) -> tuple[YearEndEffects | None, str | None]:
    try:
        return await service.year_end_effects(year), None
    except ServiceProblem as problem:
        return None, _why(problem)
    except ValidationError:
        return None, f"Le service {service.name} a répondu sans les comptes attendus."


async def _progress(svc: Services, year: int) -> YearEndProgress:
    """Every line at once: each service is asked in parallel, one that does not answer only
    makes its own line « indisponible »."""
    (run, run_note), *answers = await asyncio.gather(
        _run(svc.contracts, year),
        _effects(svc.licence, year),
        _effects(svc.video, year),
        _effects(svc.billing, year),
    )
    keys = ("licences", "videos", "billing")
    effects = {k: a[0] for k, a in zip(keys, answers, strict=True)}
    notes = {k: a[1] for k, a in zip(keys, answers, strict=True) if a[1]}
    if run_note:
        notes["contracts"] = run_note
    return progress_of(run, effects, notes)


@router.get("/contrats/cloture")
async def year_end_page(
    request: Request,
    visit: SignedIn,
    svc: Svc,
    year: Annotated[int | None, Query(alias="annee", ge=2000, le=2999)] = None,
) -> Response:
    chosen = year or clock.today().year
    return page(
        request,
        "year_end.html",
        year=chosen,
        progress=await _progress(svc, chosen),
        failure=_failure(chosen),
        refusal=Refusal(),
    )


@router.get("/contrats/cloture/{year}/progression")
async def year_end_progress(year: int, request: Request, visit: SignedIn, svc: Svc) -> Response:
    """The progress box alone (htmx refreshes it every second until every line is
    complete: the run, then what licence, video and billing did of its contract.ended)."""
    return fragment(
        request,
        "_year_end_progress.html",
        year=year,
        progress=await _progress(svc, year),
        failure=_failure(year),
    )


def _failure(year: int) -> str | None:
    task = _RUNS.get(year)
    if task is None or not task.done() or task.cancelled():
        return None
    exc = task.exception()
    if isinstance(exc, ServiceProblem):
        # the title is the service's French sentence; its detail says when, for the record
        return f"{exc.title} ({exc.detail})" if exc.detail else exc.title
    return None if exc is None else "La clôture s'est interrompue : relancez-la (elle reprend)."


@router.post("/contrats/cloture")
async def year_end_run(
    request: Request,
    visit: GuardedForm,
    year: Annotated[int, Form(alias="annee", ge=2000, le=2999)],
) -> Response:
    """Start the run (idempotent in contracts-svc: a second start resumes) and show it live."""
    svc = services_for(request, visit)
    current = _RUNS.get(year)
    if current is not None and current.done():
        _RUNS.pop(year)  # a finished (or refused) run says nothing about this one
        current = None
    if current is None:
        try:
            progress = await svc.contracts.year_end(year)
        except ServiceProblem as problem:
            return page(
                request,
                "year_end.html",
                status=problem.status if problem.status < 500 else 422,
                year=year,
                progress=await _progress(svc, year),
                failure=None,
                refusal=Refusal.of(problem),
            )
        if progress["status"] != "done":
            # a year not over yet is refused by contracts-svc: the page shows it (_failure)
            _RUNS[year] = asyncio.create_task(svc.contracts.run_year_end(year))
            await asyncio.sleep(0.05)
    return RedirectResponse(f"/contrats/cloture?annee={year}&ok=year_end_started", 303)
