"""Vidéos (issue 12): upload with progress, the operators' player, timestamped comments, share
links (URL and password shown once), revocation and each link's access log.

Everything goes through video-svc as the signed-in operator. The upload is relayed from the
dashboard's spooled copy of the form (never held in memory); the player relays video-svc's
Range streaming, so seeking works without the dashboard holding the recording.
"""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from prisme_chassis.app import Tx
from prisme_chassis.db import transaction
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile

from .. import operators
from ..clients import Json, ServiceProblem
from .deps import GuardedForm, SignedIn, Visit, check_form, services_for, signed_in
from .render import page

router = APIRouter(include_in_schema=False)

UPLOAD_PATH = "/videos"
LINK_STATUSES = {"active": "actif", "expired": "expiré", "revoked": "révoqué"}
ACCESS_EVENTS = {
    "page": "Page du lien ouverte",
    "login_ok": "Mot de passe accepté",
    "login_failed": "Mot de passe refusé",
    "throttled": "Trop d'essais : ralenti",
    "locked": "Trop d'essais : bloqué",
    "stream": "Lecture",
    "gone": "Lien mort consulté",
    "denied": "Lecture sans session refusée",
}
IdText = Annotated[str | None, Query(max_length=100)]


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID((text or "").strip())
    except ValueError:
        return None


async def _names(conn: Tx) -> dict[str, str]:
    """Operators' names by id: the services record the token's ``sub``."""
    return {str(op.id): op.name for op in await operators.list_all(conn)}


async def _videos_page(
    request: Request,
    conn: Tx,
    visit: Visit,
    *,
    status: int = 200,
    values: dict[str, str] | None = None,
    errors: list[str] | None = None,
    field_errors: dict[str, list[str]] | None = None,
) -> Response:
    chosen = values or {
        "client_id": request.query_params.get("client_id", ""),
        "contract_id": request.query_params.get("contract_id", ""),
        "title": "",
    }
    client_id = _uuid(chosen.get("client_id"))
    cursor = request.query_params.get("curseur") or None
    page_number = request.query_params.get("page", "")
    page_number_at = (
        max(1, min(int(page_number), 100_000)) if cursor and page_number.isdigit() else 1
    )
    found: Json = {"items": [], "next_cursor": None}
    unavailable = None
    try:  # newest first, 50 a page; « Page suivante » carries video-svc's cursor
        found = await services_for(request, visit).video.videos(
            client_id=client_id, limit=50, cursor=cursor
        )
    except ServiceProblem as problem:
        unavailable = problem.message
        if problem.status == 422 and cursor:
            unavailable = "Cette page n'existe plus : revenez à la première page."
    videos: list[Json] = found["items"]
    return page(
        request,
        "videos.html",
        status=status,
        videos=videos,
        unavailable=unavailable,
        values=chosen,
        errors=errors or [],
        field_errors=field_errors or {},
        names=await _names(conn),
        filter_client=str(client_id) if client_id else "",
        page_number=page_number_at,
        next_cursor=found["next_cursor"],
    )


@router.get("/videos")
async def videos_page(request: Request, conn: Tx, visit: SignedIn) -> Response:
    return await _videos_page(request, conn, visit)


async def _videos_page_anew(request: Request, visit: Visit, **kw: Any) -> Response:
    async with transaction(request.app.state.runtime.pool) as conn:
        return await _videos_page(request, conn, visit, **kw)


@router.post(UPLOAD_PATH)
async def upload(request: Request) -> Response:
    """Not ``GuardedForm``: its transaction would stay open while the recording arrives and is
    relayed; the session is checked in a short one, then the form is read and checked."""
    async with transaction(request.app.state.runtime.pool) as conn:
        visit = await signed_in(request, conn)
    await check_form(request, visit)  # Origin and CSRF token; spools the file to disk
    form = await request.form()
    values = {
        name: str(form.get(name) or "").strip() for name in ("client_id", "contract_id", "title")
    }
    sent = form.get("file")
    if not isinstance(sent, UploadFile) or not sent.filename:
        return await _videos_page_anew(
            request,
            visit,
            status=422,
            values=values,
            errors=["Choisissez le fichier de l'enregistrement."],
            field_errors={"file": ["Fichier vidéo manquant."]},
        )
    try:
        video = await services_for(request, visit).video.upload(
            client_id=values["client_id"],
            contract_id=values["contract_id"],
            title=values["title"],
            filename=sent.filename,
            file=sent.file,
            content_type=sent.content_type or "application/octet-stream",
        )
    except ServiceProblem as problem:
        return await _videos_page_anew(
            request,
            visit,
            status=problem.status,
            values=values,
            errors=problem.general_errors(),
            field_errors=problem.field_errors(),
        )
    finally:
        await sent.close()
    return RedirectResponse(f"/videos/{video['id']}?ok=video_uploaded", status_code=303)


def _links_with_log(links: list[Json], log: list[Json]) -> list[dict[str, Any]]:
    by_link: dict[str, list[Json]] = {}
    for entry in log:
        by_link.setdefault(str(entry.get("link_id")), []).append(entry)
    return [{**link, "log": by_link.get(str(link["id"]), [])} for link in links]


async def _video_page(
    request: Request,
    conn: Tx,
    visit: Visit,
    video_id: uuid.UUID,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    field_errors: dict[str, list[str]] | None = None,
    comment: dict[str, str] | None = None,
    created: Json | None = None,
) -> Response:
    video_svc = services_for(request, visit).video
    try:
        video = await video_svc.video(video_id)
    except ServiceProblem as problem:
        return page(
            request,
            "refused.html",
            status=problem.status,
            heading="Vidéo introuvable" if problem.status == 404 else problem.title,
            message=problem.message,
            back="/videos",
            problem_type=problem.type,
        )
    links = await video_svc.links(video_id=video_id)
    log = await video_svc.access_log(video_id=video_id)
    links.sort(key=lambda link: str(link.get("created_at", "")), reverse=True)
    return page(
        request,
        "video.html",
        status=status,
        video=video,
        links=_links_with_log(links, log),
        created=created,
        errors=errors or [],
        field_errors=field_errors or {},
        comment=comment or {"at_seconds": "0", "text": ""},
        names=await _names(conn),
        link_statuses=LINK_STATUSES,
        access_events=ACCESS_EVENTS,
    )


@router.get("/videos/{video_id}")
async def video_page(video_id: uuid.UUID, request: Request, conn: Tx, visit: SignedIn) -> Response:
    return await _video_page(request, conn, visit, video_id)


@router.post("/videos/{video_id}/commentaires")
async def add_comment(
    video_id: uuid.UUID,
    request: Request,
    conn: Tx,
    visit: GuardedForm,
    at_seconds: Annotated[str, Form(max_length=40)] = "",
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    kept = {"at_seconds": at_seconds, "text": text}
    try:
        moment = Decimal(at_seconds.strip().replace(",", "."))
    except InvalidOperation:
        return await _video_page(
            request,
            conn,
            visit,
            video_id,
            status=422,
            comment=kept,
            field_errors={"at_seconds": ["Un nombre de secondes, par exemple 83,5."]},
        )
    try:
        await services_for(request, visit).video.comment(video_id, moment, text.strip())
    except ServiceProblem as problem:
        return await _video_page(
            request,
            conn,
            visit,
            video_id,
            status=problem.status,
            comment=kept,
            errors=problem.general_errors(),
            field_errors=problem.field_errors(),
        )
    return RedirectResponse(f"/videos/{video_id}?ok=comment_added#commentaires", status_code=303)


@router.post("/videos/{video_id}/liens")
async def share(video_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm) -> Response:
    try:
        created = await services_for(request, visit).video.share(video_id)
    except ServiceProblem as problem:
        return await _video_page(
            request, conn, visit, video_id, status=problem.status, errors=[problem.message]
        )
    # the URL and the password are on this response only: video-svc keeps their hashes
    return await _video_page(request, conn, visit, video_id, status=201, created=created)


@router.post("/videos/{video_id}/liens/{link_id}/revoquer")
async def revoke(
    video_id: uuid.UUID,
    link_id: Annotated[uuid.UUID, Path()],
    request: Request,
    conn: Tx,
    visit: GuardedForm,
) -> Response:
    try:
        await services_for(request, visit).video.revoke_link(link_id)
    except ServiceProblem as problem:
        return await _video_page(
            request, conn, visit, video_id, status=problem.status, errors=[problem.message]
        )
    return RedirectResponse(f"/videos/{video_id}?ok=link_revoked#liens", status_code=303)


RELAYED_HEADERS = ("content-type", "content-length", "content-range", "accept-ranges")


@router.get("/videos/{video_id}/lecture")
async def play(video_id: uuid.UUID, request: Request, visit: SignedIn) -> Response:
    try:
        upstream = await services_for(request, visit).video.open_player(
            video_id, request.headers.get("range")
        )
    except ServiceProblem as problem:
        headers = {}
        if problem.status == 416 and "size" in problem.extensions:
            headers["Content-Range"] = f"bytes */{problem.extensions['size']}"
        return Response(status_code=problem.status, headers=headers)
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers={k: upstream.headers[k] for k in RELAYED_HEADERS if k in upstream.headers},
        background=BackgroundTask(upstream.aclose),
    )


@router.get("/videos/{video_id}/apercu")
async def poster(video_id: uuid.UUID, request: Request, visit: SignedIn) -> Response:
    try:
        image, media = await services_for(request, visit).video.poster(video_id)
    except ServiceProblem as problem:
        return Response(status_code=problem.status)
    return Response(image, media_type=media)
