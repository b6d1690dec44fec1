"""HTTP edge pieces of the app factory: RFC 9457 problems, request metrics, health routes.

Every error leaves a service as ``application/problem+json`` (RFC 9457):

- :class:`~prisme_chassis.errors.DomainError` → its own status, code and extension members;
- request validation → 422 with ``errors: [{loc, msg, type}]`` (the offending input is never
  echoed: it may be a secret);
- Starlette/FastAPI ``HTTPException`` (unknown route 404, wrong method 405, …) → that status;
- anything else → 500 with a generic detail and the trace id; the traceback goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opentelemetry import trace
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import metrics
from .errors import PROBLEM_BASE, PROBLEM_CONTENT_TYPE, DomainError

logger = logging.getLogger("prisme_chassis.http")

#: Route label for requests that matched no route (keeps label cardinality bounded).
UNMATCHED_ROUTE = "<unmatched>"
#: How long ``/readyz`` waits for the readiness checks before answering 503.
READY_TIMEOUT_SECONDS = 5.0


def _trace_id() -> str | None:
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def problem_response(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An ``application/problem+json`` response built from its members."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_CONTENT_TYPE
    )


def _status_code_name(status: int) -> tuple[str, str]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return phrase.lower().replace(" ", "_").replace("-", "_"), phrase


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return JSONResponse(
        exc.to_problem(request.url.path),
        status_code=exc.status,
        headers=exc.headers(),
        media_type=PROBLEM_CONTENT_TYPE,
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "loc": [str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]
    return problem_response(
        status=422,
        code="validation_error",
        title="Request validation failed",
        detail=f"{len(errors)} invalid field(s) in the request",
        instance=request.url.path,
        errors=errors,
    )


def _allowed_methods(request: Request) -> str | None:
    """Every method the OpenAPI document lists for the request's path (RFC 9110 §15.5.6).

    Starlette's 405 names only the methods of the first route on the path, while a path often
    has one route per method (``GET`` and ``POST /v1/videos``).
    """
    index: list[tuple[re.Pattern[str], set[str]]] | None = getattr(
        request.app.state, "allow_index", None
    )
    if index is None:
        index = []
        openapi = getattr(request.app, "openapi", None)
        document = openapi() if callable(openapi) else {}
        for path, operations in document.get("paths", {}).items():
            regex, _, _ = compile_path(path)
            index.append((regex, {method.upper() for method in operations}))
        request.app.state.allow_index = index
    methods: set[str] = set()
    for regex, declared in index:
        if regex.match(request.url.path):
            methods |= declared
    if not methods:
        return None
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, phrase = _status_code_name(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else phrase
    if exc.status_code == 304 or exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and (allow := _allowed_methods(request)) is not None:
        headers["Allow"] = allow
    return problem_response(
        status=exc.status_code,
        code=code,
        title=phrase,
        detail=detail,
        instance=request.url.path,
        headers=headers,
    )


class UnhandledErrorMiddleware:
    """Turns an unexpected exception into a generic 500 problem and logs its traceback.

    A pure ASGI middleware rather than an ``Exception`` handler: Starlette's
    ``ServerErrorMiddleware`` re-raises after answering, which would log every error twice
    (ours and the server's) and break in-process test clients.  If the response had already
    started, nothing can be sent: the exception propagates to the server.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            path = str(scope.get("path", ""))
            logger.exception(
                "unhandled error on %s %s",
                scope.get("method", "?"),
                path,
                extra={"http_method": scope.get("method"), "http_path": path},
            )
            trace_id = _trace_id()
            extra: dict[str, Any] = {"trace_id": trace_id} if trace_id else {}
            response = problem_response(
                status=500,
                code="internal_error",
                title="Internal server error",
                detail="An unexpected error occurred; it has been logged.",
                instance=path,
                **extra,
            )
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` an RFC 9457 problem (call once, before the app starts)."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_middleware(UnhandledErrorMiddleware)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    return UNMATCHED_ROUTE


class RequestMetricsMiddleware:
    """Counts requests and measures latency, labelled by route template (``/v1/x/{id}``).

    The raw path would give one time series per id; requests matching no route are labelled
    ``<unmatched>``.  Latency runs until the application returns, so it covers the body.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            elapsed = time.perf_counter() - start
            method = str(scope.get("method", "?"))
            route = _route_template(scope)
            metrics.HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            metrics.HTTP_LATENCY.labels(self.service, method, route).observe(elapsed)


def health_router(ready: Callable[[], Awaitable[dict[str, bool]]]) -> APIRouter:
    """``/healthz`` (process up), ``/readyz`` (``ready()`` checks all true), ``/metrics``.

    ``ready`` returns named checks, e.g. ``{"database": True, "bus": False}``; it should catch
    its own connection errors and answer ``False``.  If it raises or takes longer than
    :data:`READY_TIMEOUT_SECONDS`, the service is reported not ready.
    """
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="The database and the bus are reachable",
        responses={503: {"description": "Not ready (problem details listing failed checks)"}},
        response_model=None,
    )
    async def readyz(request: Request) -> Response:
        try:
            async with asyncio.timeout(READY_TIMEOUT_SECONDS):
                checks = dict(await ready())
        except TimeoutError:
            checks, detail = {}, "readiness checks timed out"
        except Exception:
            logger.exception("readiness check raised")
            checks, detail = {}, "readiness checks failed to run"
        else:
            failed = sorted(name for name, ok in checks.items() if not ok)
            if not failed:
                return JSONResponse({"status": "ready", "checks": checks})
            detail = "not ready: " + ", ".join(failed)
        return problem_response(
            status=503,
            code="not_ready",
            title="Service not ready",
            detail=detail,
            instance=request.url.path,
            checks=checks,
            failed=sorted(name for name, ok in checks.items() if not ok),
        )

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return router
