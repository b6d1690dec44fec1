"""Dependencies of the pages: the signed-in visit, and the guard of every form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, cast

from fastapi import Depends, Request
from prisme_chassis.app import Tx

from .. import clock, sessions
from ..clients import Services
from ..context import DashboardContext
from ..operators import Operator
from ..operators import get as get_operator
from ..settings import DashboardSettings
from .security import SESSION_COOKIE, check_origin, check_token


class SignInRequired(Exception):
    """No live session: the handler redirects to the sign-in page."""


class PasswordChangeRequired(Exception):
    """First sign-in or reset: every page but the change form redirects to it."""


class SecondFactorRequired(Exception):
    """Production: an admin or accountant without TOTP is sent to the enrolment page."""


#: DESIGN §7: in production these roles must have a second factor (offered to every role)
SECOND_FACTOR_ROLES = frozenset({"admin", "accountant"})


@dataclass(frozen=True)
class Visit:
    """A signed-in operator's request."""

    session: sessions.Session
    operator: Operator

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


def settings_of(request: Request) -> DashboardSettings:
    return cast(DashboardSettings, request.app.state.settings)


def context_of(request: Request) -> DashboardContext:
    context = request.app.state.runtime.context
    if not isinstance(context, DashboardContext):
        raise TypeError("the dashboard runs without its DashboardContext")
    return context


def session_policy(settings: DashboardSettings) -> sessions.Policy:
    return sessions.Policy(
        idle=timedelta(minutes=settings.session_idle_minutes),
        absolute=timedelta(hours=settings.session_absolute_hours),
    )


async def load_visit(request: Request, conn: Tx) -> Visit | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    policy = session_policy(settings_of(request))
    session = await sessions.resolve(conn, token, policy=policy, now=clock.now())
    if session is None or session.stage != "active":
        return None
    visit = Visit(session=session, operator=await get_operator(conn, session.operator_id))
    request.state.visit = visit
    return visit


async def _signed_in(request: Request, conn: Tx) -> Visit:
    visit = await load_visit(request, conn)
    if visit is None:
        raise SignInRequired
    if visit.operator.must_change_password:
        raise PasswordChangeRequired
    if (
        settings_of(request).env == "production"
        and not visit.operator.totp_enabled
        and SECOND_FACTOR_ROLES.intersection(visit.operator.roles)
        and not request.url.path.startswith("/security")
    ):
        raise SecondFactorRequired
    return visit


async def _signed_in_any(request: Request, conn: Tx) -> Visit:
    """Signed in, even with a password still to change (the change form itself)."""
    visit = await load_visit(request, conn)
    if visit is None:
        raise SignInRequired
    return visit


#: the check of ``SignedIn``, for a route that must not hold the request's transaction
signed_in = _signed_in
SignedIn = Annotated[Visit, Depends(_signed_in)]
SignedInAny = Annotated[Visit, Depends(_signed_in_any)]


async def check_form(request: Request, visit: Visit) -> None:
    """Origin first, then the synchronizer token of the visit's session."""
    check_origin(request, settings_of(request).public_url)
    form = await request.form()
    sent = form.get("csrf_token")
    check_token(visit.csrf_token, sent if isinstance(sent, str) else None)


async def _guarded(request: Request, visit: SignedIn) -> Visit:
    await check_form(request, visit)
    return visit


async def _guarded_any(request: Request, visit: SignedInAny) -> Visit:
    await check_form(request, visit)
    return visit


#: a signed-in operator's form post, Origin and CSRF token checked
GuardedForm = Annotated[Visit, Depends(_guarded)]
GuardedFormAny = Annotated[Visit, Depends(_guarded_any)]


def services_for(request: Request, visit: Visit) -> Services:
    """The services as ``visit``'s operator (one token minted for the page's calls)."""
    context = context_of(request)
    if context.http is None:
        raise RuntimeError("the dashboard's HTTP client is not open (start-up not run)")
    return Services.as_operator(context.http, settings_of(request), context.issuer, visit.operator)
