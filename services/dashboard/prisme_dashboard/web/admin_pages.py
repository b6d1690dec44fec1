"""Admin pages: integration tokens (DESIGN §7)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis import revocations
from prisme_chassis.app import Tx
from prisme_chassis.errors import DomainError

from .. import clock, tokens
from ..errors import NotAdmin
from ..repository import list_tokens
from ..roles import ALL_SCOPES
from .deps import GuardedForm, SignedIn, Visit, context_of
from .render import page
from .signin_pages import actor_of

router = APIRouter(include_in_schema=False)


def _admin(visit: SignedIn) -> Visit:
    if not visit.operator.is_admin:
        raise NotAdmin("Seul un administrateur gère les jetons d'intégration.")
    return visit


def _admin_form(visit: GuardedForm) -> Visit:
    return _admin(visit)


Admin = Annotated[Visit, Depends(_admin)]
AdminForm = Annotated[Visit, Depends(_admin_form)]


async def _token_page(
    request: Request,
    conn: Tx,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    **extra: object,
) -> Response:
    rows = await list_tokens(conn)
    js = request.app.state.runtime.js
    used = await revocations.last_uses(js, [str(r["id"]) for r in rows])
    last_use = {
        str(r["id"]): datetime.fromtimestamp(used[str(r["id"])], UTC)
        for r in rows
        if str(r["id"]) in used
    }
    return page(
        request,
        "tokens.html",
        status=status,
        tokens=rows,
        last_use=last_use,
        scopes=ALL_SCOPES,
        errors=errors or [],
        now=clock.now(),
        **extra,
    )


@router.get("/admin/tokens")
async def token_list(request: Request, conn: Tx, visit: Admin) -> Response:
    return await _token_page(request, conn)


@router.post("/admin/tokens")
async def token_create(
    request: Request,
    conn: Tx,
    visit: AdminForm,
    name: Annotated[str, Form(max_length=200)] = "",
    days: Annotated[int, Form(ge=1, le=tokens.MAX_DAYS)] = 90,
) -> Response:
    form = await request.form()
    chosen = [str(v) for v in form.getlist("scopes")]
    try:
        row, token = await tokens.create(
            conn,
            context_of(request).issuer,
            name=name,
            scopes=chosen,
            days=days,
            created_by=visit.operator.id,
            actor=actor_of(request, visit.operator),
            now=clock.now(),
        )
    except DomainError as exc:
        return await _token_page(request, conn, status=exc.status, errors=[exc.detail or exc.title])
    # shown on this response only: it is stored nowhere
    return await _token_page(request, conn, status=201, created=row, token=token)


@router.post("/admin/tokens/{token_id}/revoke")
async def token_revoke(
    token_id: uuid.UUID, request: Request, conn: Tx, visit: AdminForm
) -> Response:
    await tokens.revoke(
        conn,
        request.app.state.runtime.js,
        token_id,
        by=visit.operator.id,
        actor=actor_of(request, visit.operator),
        now=clock.now(),
    )
    return RedirectResponse("/admin/tokens?ok=token_revoked", status_code=303)
