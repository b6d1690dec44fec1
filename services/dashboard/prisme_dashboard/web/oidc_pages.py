"""OpenID Connect sign-in pages: ``/login/oidc`` → the provider → ``/login/oidc/callback``."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis import audit
from prisme_chassis.app import Tx
from prisme_chassis.audit import Actor

from .. import clock, oidc, sessions
from .deps import context_of, session_policy, settings_of
from .render import page
from .security import SESSION_COOKIE, clear_cookie, set_cookie

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "__Host-prisme_oidc"


def _redirect_uri(request: Request) -> str:
    base = settings_of(request).public_url or f"{request.url.scheme}://{request.url.netloc}"
    return base.rstrip("/") + "/login/oidc/callback"


def _refused(request: Request) -> Response:
    response = page(
        request,
        "refused.html",
        status=403,
        heading="Connexion refusée",
        message="La connexion par le fournisseur d'identité a échoué ou votre compte n'a "
        "aucun rôle sur PRISME.",
        back="/login",
    )
    clear_cookie(response, FLOW_COOKIE)
    return response


@router.get("/login/oidc")
async def start(request: Request) -> Response:
    config = context_of(request).oidc
    if config is None:
        return RedirectResponse("/login", status_code=303)
    flow = oidc.new_flow()
    url = await oidc.authorization_url(config, _redirect_uri(request), flow)
    response = RedirectResponse(url, status_code=303)
    set_cookie(response, FLOW_COOKIE, oidc.pack_flow(context_of(request).login_key, flow))
    return response


@router.get("/login/oidc/callback")
async def callback(request: Request, conn: Tx, code: str = "", state: str = "") -> Response:
    context = context_of(request)
    flow = oidc.unpack_flow(context.login_key, request.cookies.get(FLOW_COOKIE))
    address = request.client.host if request.client else None
    if context.oidc is None or flow is None or not code:
        return _refused(request)
    try:
        claims = await oidc.identity(
            context.oidc, _redirect_uri(request), flow, code=code, state=state
        )
        operator = await oidc.operator_for(
            conn,
            context.oidc,
            claims,
            Actor(sub="system:oidc", name=context.oidc.label, address=address),
        )
    except oidc.OidcRefused as exc:
        log.warning("OpenID sign-in refused: %s", exc)
        return _refused(request)
    now = clock.now()
    token, session = await sessions.open_session(
        conn,
        operator.id,
        stage="active",
        policy=session_policy(settings_of(request)),
        now=now,
        address=address,
        user_agent=request.headers.get("user-agent"),
    )
    await audit.record(
        conn,
        Actor(sub=str(operator.id), name=operator.name, address=address),
        "sign_in.succeeded",
        target_type="session",
        target_id=session.id,
        detail={"method": "oidc"},
    )
    response = RedirectResponse("/", status_code=303)
    set_cookie(response, SESSION_COOKIE, token)
    clear_cookie(response, FLOW_COOKIE)
    return response
