"""The operator's own account: home, sessions, second factor (DESIGN §7)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis.app import Tx

from .. import clock, second_factor, sessions
from ..errors import AccountChangeRefused, NotAdmin
from ..repository import open_sessions
from .deps import GuardedForm, SignedIn, context_of
from .render import page
from .signin_pages import actor_of

router = APIRouter(include_in_schema=False)
FormText = Annotated[str, Form(max_length=1024)]


@router.get("/sessions")
async def session_list(request: Request, conn: Tx, visit: SignedIn) -> Response:
    """Own sessions; an admin sees (and may end) everyone's."""
    who = None if visit.operator.is_admin else visit.operator.id
    rows = await open_sessions(conn, who, clock.now())
    return page(request, "sessions.html", sessions=rows, current=visit.session.id)


@router.post("/sessions/{session_id}/end")
async def end_session(
    session_id: uuid.UUID, request: Request, conn: Tx, visit: GuardedForm
) -> Response:
    target = next(
        (row for row in await open_sessions(conn, None, clock.now()) if row["id"] == session_id),
        None,
    )
    if target is not None:
        if target["operator_id"] != visit.operator.id and not visit.operator.is_admin:
            raise NotAdmin("Seul un administrateur peut fermer la session d'un autre opérateur.")
        reason = (
            "ended_by_operator" if target["operator_id"] == visit.operator.id else "ended_by_admin"
        )
        await sessions.end(
            conn,
            session_id,
            reason=reason,
            actor=actor_of(request, visit.operator),
            now=clock.now(),
        )
    return RedirectResponse("/sessions?ok=session_ended", status_code=303)


@router.get("/security")
async def security(request: Request, conn: Tx, visit: SignedIn) -> Response:
    state = await second_factor.state(conn, visit.operator.id, context_of(request).keyring)
    return page(request, "security.html", state=state, errors=[])


@router.post("/security/totp/start")
async def totp_start(
    request: Request, conn: Tx, visit: GuardedForm, current_password: FormText = ""
) -> Response:
    """Re-authentication first, then a new pending seed (sealed) to scan."""
    try:
        await second_factor.start(
            conn,
            visit.operator.id,
            password=current_password,
            keyring=context_of(request).keyring,
            actor=actor_of(request, visit.operator),
        )
    except AccountChangeRefused as exc:
        state = await second_factor.state(conn, visit.operator.id, context_of(request).keyring)
        return page(request, "security.html", status=422, state=state, errors=[exc.detail])
    return RedirectResponse("/security", status_code=303)


@router.post("/security/totp/confirm")
async def totp_confirm(
    request: Request, conn: Tx, visit: GuardedForm, code: FormText = ""
) -> Response:
    try:
        codes = await second_factor.confirm(
            conn,
            visit.operator.id,
            code=code,
            keyring=context_of(request).keyring,
            actor=actor_of(request, visit.operator),
            now=clock.now(),
        )
    except AccountChangeRefused as exc:
        state = await second_factor.state(conn, visit.operator.id, context_of(request).keyring)
        return page(request, "security.html", status=422, state=state, errors=[exc.detail])
    # shown once, on this response only (never stored in clear, never redirected with)
    return page(request, "recovery_codes.html", codes=codes)


@router.post("/security/totp/remove")
async def totp_remove(
    request: Request,
    conn: Tx,
    visit: GuardedForm,
    current_password: FormText = "",
    code: FormText = "",
) -> Response:
    try:
        await second_factor.remove(
            conn,
            visit.operator.id,
            password=current_password,
            code=code,
            keyring=context_of(request).keyring,
            actor=actor_of(request, visit.operator),
            now=clock.now(),
        )
    except AccountChangeRefused as exc:
        state = await second_factor.state(conn, visit.operator.id, context_of(request).keyring)
        return page(request, "security.html", status=422, state=state, errors=[exc.detail])
    return RedirectResponse("/security?ok=totp_removed", status_code=303)
