"""Stripe-shaped errors: ``{"error": {"type", "code", "message", ...}}`` with Stripe's statuses."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An error answered with Stripe's JSON error body."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        code: str | None = None,
        param: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.code = code
        self.param = param
        self.extra = extra

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        if self.param is not None:
            err["param"] = self.param
        err.update(self.extra)
        return {"error": err}


def invalid(message: str, code: str | None = None, param: str | None = None) -> StripeError:
    """A 400 ``invalid_request_error``."""
    return StripeError(400, "invalid_request_error", message, code=code, param=param)


def missing(message: str, param: str) -> StripeError:
    return invalid(message, code="parameter_missing", param=param)


def not_found(kind: str, obj_id: str, param: str = "id") -> StripeError:
    """A 404 ``resource_missing`` as Stripe words it."""
    return StripeError(
        404,
        "invalid_request_error",
        f"No such {kind}: '{obj_id}'",
        code="resource_missing",
        param=param,
    )


def api_error(status: int = 500) -> StripeError:
    return StripeError(
        status,
        "api_error",
        "An unknown error occurred (injected by the sandbox).",
        code=None,
    )
