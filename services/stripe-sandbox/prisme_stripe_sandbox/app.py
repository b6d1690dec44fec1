"""``create_app``: the FastAPI app answering Stripe's API and the ``/_sandbox`` controls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from .control import router as control_router
from .errors import StripeError, invalid
from .middleware import StripeApiMiddleware
from .resources import (
    customers,
    events,
    invoice_actions,
    invoiceitems,
    invoices,
    payment_methods,
    payments,
    refunds,
)
from .sandbox import Sandbox
from .webhooks import DEFAULT_RETRY_DELAYS


def create_app(
    *,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    sandbox: Sandbox | None = None,
) -> FastAPI:
    """A Stripe sandbox app; ``app.state.sandbox`` is its state (objects, switches, webhooks)."""
    sb = sandbox or Sandbox(
        webhook_url=webhook_url, webhook_secret=webhook_secret, retry_delays=retry_delays
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await sb.dispatcher.start()
        try:
            yield
        finally:
            await sb.dispatcher.stop()

    app = FastAPI(title="PRISME Stripe sandbox", lifespan=lifespan, docs_url="/_sandbox/docs")
    app.state.sandbox = sb
    for module in (
        customers, payment_methods, invoiceitems, invoices, invoice_actions, payments, refunds, events,
    ):  # fmt: skip
        app.include_router(module.router)
    app.include_router(control_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        # the platform's liveness probe path (prisme up probes every process there)
        return {"status": "ok"}

    app.add_middleware(StripeApiMiddleware, sandbox=sb)

    @app.exception_handler(StripeError)
    async def stripe_error(_request: Request, exc: StripeError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):
            err = invalid(
                f"Unrecognized request URL ({request.method}: {request.url.path}).",
                code="resource_missing" if exc.status_code == 404 else None,
            )
            return JSONResponse(err.body(), status_code=404)
        return JSONResponse(
            StripeError(exc.status_code, "invalid_request_error", str(exc.detail)).body(),
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        err = invalid(f"Invalid request: {exc.errors()}", code="parameter_invalid")
        return JSONResponse(err.body(), status_code=400)

    return app
