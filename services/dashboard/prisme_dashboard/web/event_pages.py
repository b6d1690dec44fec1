"""Événements: the live feed over server-sent events, dead letters and dead jobs (issue 12).

The feed page lists the newest events (readable without JavaScript) and hands the browser a
cursor; ``/evenements/flux`` streams what follows as ``text/event-stream``, each event's ``id``
the cursor past it, so ``EventSource`` resumes with ``Last-Event-ID`` after a cut.

Dead letters and dead jobs are read and acted on through each service's own operational routes
(DESIGN §4: ``/v1/dead-letters``, ``/v1/jobs``), as the signed-in operator: the service decides
who may, and writes the replay or retry in its audit trail under the operator's name.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from prisme_chassis.db import transaction

from .. import clock, feed, sessions
from ..clients import Json, ServiceClient, ServiceProblem, Services
from ..clients.base import DEAD_LETTERS_SHOWN, SERVICE_LABELS
from ..errors import UnknownService
from .deps import GuardedForm, SignedIn, Visit, services_for, session_policy, settings_of
from .render import TEMPLATES, page
from .security import SESSION_COOKIE

router = APIRouter(include_in_schema=False)

#: where a practice's page lives (the Cabinets pages)
PRACTICE_URL = "/cabinets/{id}"
#: without an event, a keep-alive (and a check that the session still lives) this often
HEARTBEAT_SECONDS = 15.0
#: a stream ends after this long and the browser resumes it (Last-Event-ID): a server stopping
#: never waits on a page left open for longer than this
STREAM_SECONDS = 300.0

FilterText = Annotated[str | None, Query(max_length=200)]


def _practice(text: str | None) -> uuid.UUID | None:
    if not text or not text.strip():
        return None
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


@router.get("/evenements")
async def events_page(
    request: Request,
    visit: SignedIn,
    subject: FilterText = None,
    practice: FilterText = None,
) -> Response:
    chosen = feed.clean_filter(subject)
    practice_id = _practice(practice)
    js = request.app.state.runtime.js
    events, cursor = await feed.recent(js, subject=chosen, practice=practice_id)
    query = {"from": cursor.format()}
    if chosen:
        query["subject"] = chosen
    if practice_id:
        query["practice"] = str(practice_id)
    stream_url = str(request.url_for("feed_stream").include_query_params(**query))
    return page(
        request,
        "events.html",
        events=events,
        filters=feed.subject_filters(),
        subject=chosen,
        practice=practice or "",
        practice_error=bool(practice and practice.strip() and practice_id is None),
        stream_url=stream_url.removeprefix(str(request.base_url).rstrip("/")),
        practice_url=PRACTICE_URL,
    )


def _sse(cursor: feed.Cursor, event: str | None = None, data: str | None = None) -> str:
    """One server-sent event; ``data`` may span lines (one ``data:`` line each)."""
    lines = [f"id: {cursor.format()}"]
    if event:
        lines.append(f"event: {event}")
    if data is not None:
        lines += [f"data: {line}" for line in data.splitlines() or [""]]
    else:
        lines.append(": en attente")
    return "\n".join(lines) + "\n\n"


@router.get("/evenements/flux", name="feed_stream")
async def feed_stream(
    request: Request,
    visit: SignedIn,
    subject: FilterText = None,
    practice: FilterText = None,
    start: Annotated[str | None, Query(alias="from", max_length=400)] = None,
) -> Response:
    chosen = feed.clean_filter(subject)
    practice_id = _practice(practice)
    rt = request.app.state.runtime
    cursor = feed.Cursor.parse(request.headers.get("last-event-id")) or feed.Cursor.parse(start)
    if cursor is None:
        cursor = await feed.head(rt.js, feed.streams_for(chosen))
    token = request.cookies.get(SESSION_COOKIE, "")
    policy = session_policy(settings_of(request))
    row = TEMPLATES.env.get_template("_event_row.html")

    async def still_signed_in() -> bool:
        async with transaction(rt.pool) as conn:
            found = await sessions.resolve(conn, token, policy=policy, now=clock.now(), touch=False)
        return found is not None

    ends = time.monotonic() + STREAM_SECONDS

    async def body() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        async for at, event in feed.follow(
            rt.nc,
            rt.js,
            cursor,
            subject=chosen,
            practice=practice_id,
            heartbeat=HEARTBEAT_SECONDS,
        ):
            if event is None:
                if not await still_signed_in():
                    yield _sse(at, "fin", "session")
                    return
                yield _sse(at)
                if time.monotonic() > ends:
                    return  # the browser reconnects at once, from this cursor
                continue
            html = row.render(e=event, practice_url=PRACTICE_URL, live=True)
            yield _sse(at, "feed", html)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )


# --- dead letters and dead jobs, through each service's operational routes ----------------


@dataclass
class Column:
    """What one service answered for a page: its rows, or why there are none."""

    service: str
    label: str
    rows: list[Json]
    refused: str | None = None


async def _gather(
    clients: list[ServiceClient], call: Callable[[ServiceClient], Awaitable[list[Json]]]
) -> list[Column]:
    async def one(client: ServiceClient) -> Column:
        label = SERVICE_LABELS.get(client.name, client.name).capitalize()
        try:
            return Column(client.name, label, await call(client))
        except ServiceProblem as problem:
            if problem.status == 404:  # this service runs no job queue
                return Column(client.name, label, [], refused="")
            return Column(client.name, label, [], refused=problem.message)

    columns = await asyncio.gather(*(one(c) for c in clients))
    # what needs the operator first, then the quiet ones, then the unreachable ones
    return sorted(columns, key=lambda c: (not c.rows, c.refused is not None))


def _client(services: Services, name: str) -> ServiceClient:
    for client in services.each():
        if client.name == name:
            return client
    raise UnknownService("Ce service n'existe pas.")


async def _letters_page(
    request: Request, visit: Visit, *, status: int = 200, errors: list[str] | None = None
) -> Response:
    services = services_for(request, visit)
    columns = await _gather(services.each(), lambda c: c.dead_letters())
    return page(
        request,
        "dead_letters.html",
        status=status,
        columns=columns,
        errors=errors or [],
        total=sum(len(c.rows) for c in columns),
        dead_letters_shown=DEAD_LETTERS_SHOWN,
    )


@router.get("/evenements/lettres-mortes")
async def dead_letters_page(request: Request, visit: SignedIn) -> Response:
    return await _letters_page(request, visit)


@router.post("/evenements/lettres-mortes/{service}/{seq}/rejouer")
async def replay_dead_letter(
    request: Request,
    visit: GuardedForm,
    service: Annotated[str, Path(max_length=40)],
    seq: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> Response:
    client = _client(services_for(request, visit), service)
    try:
        await client.replay_dead_letter(seq)
    except ServiceProblem as problem:
        label = SERVICE_LABELS.get(client.name, client.name)
        message = f"Rejeu de la lettre n° {seq} ({label}) refusé : {problem.message}"
        return await _letters_page(request, visit, status=problem.status, errors=[message])
    return RedirectResponse("/evenements/lettres-mortes?ok=dead_letter_replayed", status_code=303)


async def _dead_jobs(client: ServiceClient) -> list[Json]:
    answer = await client.jobs(state="dead")
    items = answer.get("items")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


async def _jobs_page(
    request: Request, visit: Visit, *, status: int = 200, errors: list[str] | None = None
) -> Response:
    services = services_for(request, visit)
    columns = await _gather(services.each(), _dead_jobs)
    return page(
        request,
        "dead_jobs.html",
        status=status,
        columns=columns,
        errors=errors or [],
        total=sum(len(c.rows) for c in columns),
    )


@router.get("/evenements/taches")
async def dead_jobs_page(request: Request, visit: SignedIn) -> Response:
    return await _jobs_page(request, visit)


@router.post("/evenements/taches/{service}/{job_id}/relancer")
async def retry_job(
    request: Request,
    visit: GuardedForm,
    service: Annotated[str, Path(max_length=40)],
    job_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> Response:
    client = _client(services_for(request, visit), service)
    try:
        await client.retry_job(job_id)
    except ServiceProblem as problem:
        label = SERVICE_LABELS.get(client.name, client.name)
        message = f"Relance de la tâche n° {job_id} ({label}) refusée : {problem.message}"
        return await _jobs_page(request, visit, status=problem.status, errors=[message])
    return RedirectResponse("/evenements/taches?ok=job_retried", status_code=303)
