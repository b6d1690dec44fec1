"""Public viewer routes (no bearer token): ``/v/{token}`` in French, for the practice's staff."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from prisme_chassis.app import Tx
from prisme_chassis.errors import NotFound, problems

from .. import errors, pages, viewing
from ..context import VideoRuntime, VideoRuntimeDep
from ..domain import client_address
from ..viewing import STREAM_HEADERS, Visitor, media_type
from .common import status_problems

router = APIRouter(tags=["viewer"])
_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
_PAGES: dict[int | str, dict[str, Any]] = {
    404: {"description": "Lien inconnu", **_HTML},
    410: {"description": "Lien expiré ou révoqué", **_HTML},
}

COOKIE = "prisme_video_session"


def _visitor(request: Request, rt: VideoRuntime) -> Visitor:
    """The client's address as the trusted proxies tell it (V4 throttling, the access log)."""
    address = client_address(
        request.client.host if request.client else None,
        ", ".join(request.headers.getlist("x-forwarded-for")) or None,
        rt.settings.trusted_proxies,
    )
    return Visitor(address=address, user_agent=request.headers.get("user-agent", ""))


def _html(body: str, status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(
        body, status_code=status, headers={**pages.SECURITY_HEADERS, **(headers or {})}
    )


@router.get("/v/{token}", response_class=HTMLResponse, responses=_PAGES)
async def link_page(token: str, request: Request, conn: Tx, rt: VideoRuntimeDep) -> HTMLResponse:
    """The password page, or the player once the visitor has a session for this link."""
    ctx = rt.context
    try:
        target, signed_in = await viewing.open_page(
            conn, ctx, token, _visitor(request, rt), request.cookies.get(COOKIE)
        )
    except NotFound:
        return _html(pages.not_found_page(), 404)
    if target.status != "active":
        return _html(pages.gone_page(), 410)
    if not signed_in:
        return _html(pages.password_page(), 200)
    page = pages.player_page(
        target.video.title,
        float(target.video.duration_seconds),
        f"{request.url.path}/stream",
        f"{request.url.path}/poster",
    )
    return _html(page, 200)


@router.post(
    "/v/{token}",
    response_class=HTMLResponse,
    responses={
        **_PAGES,
        303: {"description": "Session ouverte, retour à la page du lien"},
        401: {"description": "Mot de passe incorrect", **_HTML},
        429: {"description": "Trop d'essais (délai croissant par lien et par adresse)", **_HTML},
        **status_problems(422),
    },
)
async def link_login(
    token: str,
    request: Request,
    conn: Tx,
    rt: VideoRuntimeDep,
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """V4: check the password (throttled, logged); on success set a session bound to the link."""
    ctx = rt.context
    try:
        outcome = await viewing.login(conn, ctx, token, password, _visitor(request, rt))
    except NotFound:
        return _html(pages.not_found_page(), 404)
    status = viewing.LoginOutcome.http_status[outcome.kind]
    if outcome.kind == "gone":
        return _html(pages.gone_page(), status)
    if outcome.kind == "throttled":
        seconds = max(1, math.ceil(outcome.retry_after.total_seconds()))
        return _html(
            pages.throttled_page(seconds),
            status,
            {"Retry-After": str(seconds)},
        )
    if outcome.kind == "wrong":
        return _html(pages.password_page("Mot de passe incorrect."), status)
    response = RedirectResponse(request.url.path, status_code=303, headers=pages.SECURITY_HEADERS)
    assert outcome.cookie is not None
    response.set_cookie(
        COOKIE,
        outcome.cookie,
        max_age=outcome.cookie_max_age,
        path=request.url.path,  # sent back for this link's page and stream only
        httponly=True,
        samesite="strict",
        secure=ctx.settings.cookie_secure,
    )
    return response


@router.get(
    "/v/{token}/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"video/mp4": {}}},
        206: {"content": {"video/mp4": {}}},
        **problems(
            errors.SessionRequired, errors.LinkNotFound, errors.LinkGone, errors.RangeNotSatisfiable
        ),
    },
)
async def link_stream(token: str, request: Request, rt: VideoRuntimeDep) -> Response:
    """HTTP Range streaming (206/416), decrypting chunk by chunk in constant memory."""
    plan = await viewing.stream(
        rt.pool,
        rt.context,
        token,
        request.cookies.get(COOKIE),
        request.headers.get("range"),
        _visitor(request, rt),
    )
    headers = {**STREAM_HEADERS, "Content-Length": str(plan.length)}
    if plan.status == 206:
        headers["Content-Range"] = f"bytes {plan.start}-{plan.end}/{plan.size}"
    return StreamingResponse(
        plan.body,
        status_code=plan.status,
        headers=headers,
        media_type=media_type(plan.container),
    )


@router.get(
    "/v/{token}/poster",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}},
        **problems(errors.SessionRequired, errors.LinkNotFound, errors.LinkGone),
    },
)
async def link_poster(token: str, request: Request, rt: VideoRuntimeDep) -> Response:
    image = await viewing.poster(
        rt.pool, rt.context, token, request.cookies.get(COOKIE), _visitor(request, rt)
    )
    return Response(image, media_type="image/jpeg", headers=STREAM_HEADERS)
