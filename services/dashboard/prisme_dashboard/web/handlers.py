"""What a refused page request looks like in a browser: a French page, not JSON."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from prisme_chassis.errors import DomainError, TooManyRequests

from ..clients import ServiceProblem
from ..errors import CsrfRefused, NotAdmin, UnknownService
from .deps import PasswordChangeRequired, SecondFactorRequired, SignInRequired
from .render import page


def install(app: FastAPI) -> None:
    async def sign_in_required(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/login", status_code=303)

    async def password_change_required(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/password", status_code=303)

    async def second_factor_required(request: Request, exc: Exception) -> Response:
        return RedirectResponse("/security?ok=totp_required", status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        headings = {
            CsrfRefused: "Requête refusée",
            TooManyRequests: "Trop de tentatives",
            NotAdmin: "Accès refusé",
        }
        heading = next((h for cls, h in headings.items() if isinstance(exc, cls)), exc.title)
        back = "/login" if isinstance(exc, TooManyRequests) else "/"
        response = page(
            request,
            "refused.html",
            status=exc.status,
            heading=heading,
            message=exc.detail or exc.title,
            back=back,
            problem_type=exc.type_uri,
        )
        response.headers.update(exc.headers())
        return response

    async def service_refused(request: Request, exc: Exception) -> Response:
        """A page whose service refused or did not answer (a form handles its own)."""
        assert isinstance(exc, ServiceProblem)
        headings = {401: "Accès refusé", 403: "Accès refusé", 404: "Introuvable"}
        status = exc.status if 400 <= exc.status < 600 else 502
        return page(
            request,
            "refused.html",
            status=status,
            heading=headings.get(exc.status, exc.title),
            message=exc.message,
            back="/",
            problem_type=exc.type,
        )

    app.add_exception_handler(ServiceProblem, service_refused)
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(PasswordChangeRequired, password_change_required)
    app.add_exception_handler(SecondFactorRequired, second_factor_required)
    for error in (CsrfRefused, TooManyRequests, NotAdmin, UnknownService):
        app.add_exception_handler(error, refused)
