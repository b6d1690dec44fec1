"""Administration (issue 12, admin only): operators — add one (its one-time password shown
once), change its roles, disable or enable it, reset its password, see its open sessions —,
the integration tokens (``/admin/tokens``) and the webhook endpoints of services/webhooks."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis.app import Tx
from prisme_chassis.errors import DomainError

from .. import clock, operators
from ..clients import Json, ServiceProblem
from ..repository import open_sessions
from ..roles import ROLE_LABELS, ROLES
from .admin_pages import Admin, AdminForm
from .deps import Visit, services_for
from .render import page
from .signin_pages import actor_of

router = APIRouter(include_in_schema=False)


async def _admin_page(
    request: Request,
    conn: Tx,
    visit: Visit,
    *,
    status: int = 200,
    errors: list[str] | None = None,
    created: tuple[operators.Operator, str] | None = None,
    reset: tuple[operators.Operator, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    people = await operators.list_all(conn)
    sessions = await open_sessions(conn, None, clock.now())
    by_operator: dict[str, int] = {}
    for s in sessions:
        by_operator[str(s["operator_id"])] = by_operator.get(str(s["operator_id"]), 0) + 1
    endpoints: list[Json] = []
    webhooks_note = None
    try:
        items = (await services_for(request, visit).webhooks.endpoints()).get("items")
        endpoints = [e for e in items if isinstance(e, dict)] if isinstance(items, list) else []
    except ServiceProblem as problem:
        webhooks_note = problem.message
    return page(
        request,
        "admin.html",
        status=status,
        people=people,
        sessions=sessions,
        session_counts=by_operator,
        endpoints=endpoints,
        webhooks_note=webhooks_note,
        roles=ROLES,
        labels=ROLE_LABELS,
        errors=errors or [],
        created=created,
        reset=reset,
        values=values or {"email": "", "name": ""},
    )


@router.get("/admin")
async def admin_page(request: Request, conn: Tx, visit: Admin) -> Response:
    return await _admin_page(request, conn, visit)


Text = Annotated[str, Form(max_length=254)]


@router.post("/admin/operateurs")
async def add_operator(
    request: Request, conn: Tx, visit: AdminForm, email: Text = "", name: Text = ""
) -> Response:
    chosen = [str(v) for v in (await request.form()).getlist("roles")]
    try:
        created = await operators.create(
            conn,
            email=email,
            role_names=chosen,
            name=name or None,
            actor=actor_of(request, visit.operator),
        )
    except DomainError as exc:
        return await _admin_page(
            request,
            conn,
            visit,
            status=exc.status,
            errors=[exc.detail or exc.title],
            values={"email": email, "name": name},
        )
    # the one-time password is on this response only (stored as an Argon2id hash)
    return await _admin_page(request, conn, visit, status=201, created=created)


async def _refused(request: Request, conn: Any, visit: Visit, exc: DomainError) -> Response:
    return await _admin_page(
        request, conn, visit, status=exc.status, errors=[exc.detail or exc.title]
    )


def _not_self(visit: Visit, operator_id: uuid.UUID, what: str) -> list[str]:
    if visit.operator.id == operator_id:
        return [
            f"Vous ne pouvez pas {what} votre propre compte : demandez-le à un autre administrateur."
        ]
    return []


@router.post("/admin/operateurs/{operator_id}/roles")
async def change_roles(
    operator_id: uuid.UUID, request: Request, conn: Tx, visit: AdminForm
) -> Response:
    chosen = [str(v) for v in (await request.form()).getlist("roles")]
    refused = (
        _not_self(visit, operator_id, "modifier les rôles de") if "admin" not in chosen else []
    )
    if refused:
        return await _admin_page(request, conn, visit, status=409, errors=refused)
    try:
        await operators.set_roles(
            conn, operator_id, chosen, actor=actor_of(request, visit.operator)
        )
    except DomainError as exc:
        return await _admin_page(
            request, conn, visit, status=exc.status, errors=[exc.detail or exc.title]
        )
    return RedirectResponse("/admin?ok=operator_roles", status_code=303)


@router.post("/admin/operateurs/{operator_id}/desactiver")
async def disable(operator_id: uuid.UUID, request: Request, conn: Tx, visit: AdminForm) -> Response:
    refused = _not_self(visit, operator_id, "désactiver")
    if refused:
        return await _admin_page(request, conn, visit, status=409, errors=refused)
    try:
        await operators.disable(
            conn, operator_id, actor=actor_of(request, visit.operator), now=clock.now()
        )
    except DomainError as exc:  # an unknown operator: said on the page, not a 500
        return await _refused(request, conn, visit, exc)
    return RedirectResponse("/admin?ok=operator_disabled", status_code=303)


@router.post("/admin/operateurs/{operator_id}/activer")
async def enable(operator_id: uuid.UUID, request: Request, conn: Tx, visit: AdminForm) -> Response:
    try:
        await operators.enable(conn, operator_id, actor=actor_of(request, visit.operator))
    except DomainError as exc:
        return await _refused(request, conn, visit, exc)
    return RedirectResponse("/admin?ok=operator_enabled", status_code=303)


@router.post("/admin/operateurs/{operator_id}/reinitialiser")
async def reset(operator_id: uuid.UUID, request: Request, conn: Tx, visit: AdminForm) -> Response:
    refused = _not_self(visit, operator_id, "réinitialiser le mot de passe de")
    if refused:
        return await _admin_page(request, conn, visit, status=409, errors=refused)
    try:
        done = await operators.reset_password(
            conn, operator_id, actor=actor_of(request, visit.operator), now=clock.now()
        )
    except DomainError as exc:
        return await _refused(request, conn, visit, exc)
    return await _admin_page(request, conn, visit, reset=done)
