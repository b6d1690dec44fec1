"""Événements: the live feed over server-sent events, dead letters and dead jobs (issue 12).

The feed page lists the newest events (readable without JavaScript) and hands the browser a
cursor; ``/evenements/flux`` streams what follows as ``text/event-stream``, each event's ``id``
the cursor past it, so ``EventSource`` resumes with ``Last-Event-ID`` after a cut.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from prisme_chassis.db import transaction

from .. import clock, feed, sessions
from .deps import SignedIn, session_policy, settings_of
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
