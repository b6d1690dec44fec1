"""Sign-in, second factor, sign-out and the password change (DESIGN §4, §7)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from prisme_chassis.app import Tx
from prisme_chassis.audit import Actor

from .. import clock, operators, sessions, signin, throttle
from ..errors import WeakPassword
from .deps import (
    GuardedFormAny,
    SignedInAny,
    context_of,
    load_visit,
    session_policy,
    settings_of,
)
from .render import page
from .security import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    check_origin,
    check_token,
    clear_cookie,
    login_token,
    new_login_cookie,
    set_cookie,
)

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form(max_length=1024)]
REFUSED = "E-mail ou mot de passe incorrect."
CODE_REFUSED = "Code incorrect ou déjà utilisé."


def _attempt(request: Request) -> signin.Attempt:
    return signin.Attempt(
        address=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        request_id=request.headers.get("x-request-id"),
    )


def actor_of(request: Request, operator: operators.Operator) -> Actor:
    attempt = _attempt(request)
    return Actor(
        sub=str(operator.id),
        name=operator.name,
        address=attempt.address,
        request_id=attempt.request_id,
    )


def throttle_policy(request: Request) -> throttle.Policy:
    settings = settings_of(request)
    return throttle.Policy(
        free=settings.login_free_failures,
        base_seconds=settings.login_base_delay_seconds,
        max_seconds=settings.login_max_delay_seconds,
    )


def _signed_in_redirect(token: str, target: str = "/") -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, SESSION_COOKIE, token)
    clear_cookie(response, LOGIN_COOKIE)
    return response


def _login_page(
    request: Request, *, error: str | None = None, email: str = "", status: int = 200
) -> HTMLResponse:
    cookie = request.cookies.get(LOGIN_COOKIE) or new_login_cookie()
    key = context_of(request).login_key
    response = page(
        request,
        "login.html",
        status=status,
        csrf_token=login_token(key, cookie),
        error=error,
        email=email,
        oidc=context_of(request).oidc,
    )
    if request.cookies.get(LOGIN_COOKIE) != cookie:
        set_cookie(response, LOGIN_COOKIE, cookie)
    return response


@router.get("/login")
async def login_form(request: Request, conn: Tx) -> Response:
    if await load_visit(request, conn) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(request)


@router.post("/login")
async def login(
    request: Request,
    conn: Tx,
    email: FormText = "",
    password: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    check_origin(request, settings_of(request).public_url)
    cookie = request.cookies.get(LOGIN_COOKIE)
    check_token(
        login_token(context_of(request).login_key, cookie or ""), csrf_token if cookie else None
    )
    now = clock.now()
    previous = request.cookies.get(SESSION_COOKIE)
    try:
        outcome = await signin.password_step(
            conn,
            email=email,
            password=password,
            attempt=_attempt(request),
            throttle_policy=throttle_policy(request),
            session_policy=session_policy(settings_of(request)),
            now=now,
        )
    except signin.SignInRefused:
        return _login_page(request, error=REFUSED, email=email, status=401)
    if previous:
        # a new session at every sign-in: whatever this browser held before ends (fixation)
        old = await sessions.resolve(
            conn, previous, policy=session_policy(settings_of(request)), now=now
        )
        if old is not None:
            await sessions.end(
                conn, old.id, reason="replaced", actor=Actor.system("sign-in"), now=now
            )
    target = "/login/code" if outcome.needs_second_factor else "/"
    return _signed_in_redirect(outcome.token, target)


async def _pending(request: Request, conn: Tx) -> sessions.Session | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    found = await sessions.resolve(
        conn, token, policy=session_policy(settings_of(request)), now=clock.now()
    )
    return found if found is not None and found.stage == "second_factor" else None


@router.get("/login/code")
async def code_form(request: Request, conn: Tx) -> Response:
    pending = await _pending(request, conn)
    if pending is None:
        return RedirectResponse("/login", status_code=303)
    return page(request, "login_code.html", csrf_token=pending.csrf_token, error=None)


@router.post("/login/code")
async def code(
    request: Request, conn: Tx, code: FormText = "", csrf_token: FormText = ""
) -> Response:
    check_origin(request, settings_of(request).public_url)
    pending = await _pending(request, conn)
    if pending is None:
        return RedirectResponse("/login", status_code=303)
    check_token(pending.csrf_token, csrf_token)
    try:
        outcome = await signin.second_factor_step(
            conn,
            pending,
            code=code,
            attempt=_attempt(request),
            keyring=context_of(request).keyring,
            throttle_policy=throttle_policy(request),
            session_policy=session_policy(settings_of(request)),
            now=clock.now(),
        )
    except signin.SignInRefused:
        return page(
            request,
            "login_code.html",
            status=401,
            csrf_token=pending.csrf_token,
            error=CODE_REFUSED,
        )
    return _signed_in_redirect(outcome.token)


@router.post("/logout")
async def logout(request: Request, conn: Tx, visit: GuardedFormAny) -> Response:
    await sessions.end(
        conn,
        visit.session.id,
        reason="signed_out",
        actor=actor_of(request, visit.operator),
        now=clock.now(),
    )
    response = RedirectResponse("/login?ok=signed_out", status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.get("/password")
async def password_form(request: Request, visit: SignedInAny) -> Response:
    return page(request, "password.html", errors=[], forced=visit.operator.must_change_password)


@router.post("/password")
async def change_password(
    request: Request,
    conn: Tx,
    visit: GuardedFormAny,
    current_password: FormText = "",
    new_password: FormText = "",
    confirm_password: FormText = "",
) -> Response:
    forced = visit.operator.must_change_password
    if new_password != confirm_password:
        return page(
            request,
            "password.html",
            status=422,
            errors=["Les deux saisies du nouveau mot de passe diffèrent."],
            forced=forced,
        )
    now = clock.now()
    try:
        # every session of the operator ends, this one included; a fresh one replaces it
        await operators.change_password(
            conn,
            visit.operator.id,
            current=current_password,
            new=new_password,
            keep_session=None,
            actor=actor_of(request, visit.operator),
            now=now,
        )
    except WeakPassword as exc:
        problems = exc.extra.get("problems") or [exc.detail or exc.title]
        return page(request, "password.html", status=422, errors=problems, forced=forced)
    token, _ = await sessions.open_session(
        conn,
        visit.operator.id,
        stage="active",
        policy=session_policy(settings_of(request)),
        now=now,
        address=_attempt(request).address,
        user_agent=_attempt(request).user_agent,
    )
    return _signed_in_redirect(token, "/?ok=password_changed")
