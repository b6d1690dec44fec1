"""Typed domain errors, rendered as RFC 9457 problem details by the HTTP edge.

Raise a subclass with a human ``detail`` and any extension members as keyword arguments::

    raise Unprocessable("contract is not eligible", failures=[{"criterion": "C3.network", ...}])

Extension values are converted to JSON-compatible values at construction (UUID, Decimal,
date, pydantic models are fine); anything that cannot be converted raises ``TypeError`` at
the raise site, not later in the error handler.

The catalogue: a service names each business rule it enforces with its own class (a stable
``code`` such as ``year-not-over``, a ``title``, a ``status``), declared in its ``errors.py``
and raised by its use cases (never a bare ``Conflict`` or ``NotFound``). Every class that sets
``code`` is registered (:func:`catalogue`); the app factory documents each one as a component
schema ``Problem-<code>`` and routes list what they raise with ``responses=problems(...)``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic_core import PydanticSerializationError, to_jsonable_python

PROBLEM_BASE = "https://prisme.example/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

_RESERVED = frozenset({"type", "title", "status", "detail", "instance"})


_CATALOGUE: list[type[DomainError]] = []


class DomainError(Exception):
    """An expected failure with an HTTP status and a stable machine code."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            _CATALOGUE.append(cls)

    @classmethod
    def problem_type(cls) -> str:
        """The stable ``type`` URI of this problem."""
        return PROBLEM_BASE + cls.code

    @classmethod
    def schema_name(cls) -> str:
        """Its component schema in the OpenAPI document."""
        return f"Problem-{cls.code}"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        reserved = _RESERVED.intersection(extra)
        if reserved:
            raise ValueError(f"reserved problem members given as extras: {sorted(reserved)}")
        try:
            self.extra: dict[str, Any] = {
                key: to_jsonable_python(value) for key, value in extra.items()
            }
        except PydanticSerializationError as exc:
            raise TypeError(f"problem extension members must be JSON-serialisable: {exc}") from exc

    @property
    def type_uri(self) -> str:
        return self.problem_type()

    def headers(self) -> dict[str, str]:
        """Extra response headers this error asks for (e.g. ``Retry-After``)."""
        return {}

    def to_problem(self, instance: str) -> dict[str, Any]:
        """The RFC 9457 body: type, title, status, detail, instance, then extension members."""
        problem: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail if self.detail is not None else self.title,
            "instance": instance,
        }
        problem.update(self.extra)
        return problem

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"

    def __init__(
        self, detail: str | None = None, *, error: str | None = None, **extra: Any
    ) -> None:
        super().__init__(detail, **extra)
        self.error = error

    def headers(self) -> dict[str, str]:
        # RFC 6750 §3: the challenge names the scheme; an ``error`` when a token was sent.
        if self.error:
            return {"WWW-Authenticate": f'Bearer realm="prisme", error="{self.error}"'}
        return {"WWW-Authenticate": 'Bearer realm="prisme"'}


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Gone(DomainError):
    status = 410
    code = "gone"
    title = "Gone"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"
    title = "Unprocessable content"


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
    title = "Too many requests"

    def __init__(
        self, detail: str | None = None, *, retry_after: float | None = None, **extra: Any
    ) -> None:
        seconds = None if retry_after is None else max(0, math.ceil(retry_after))
        if seconds is not None:
            extra["retry_after"] = seconds
        super().__init__(detail, **extra)
        self.retry_after = seconds

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(self.retry_after)}


def catalogue() -> list[type[DomainError]]:
    """Every problem class defined so far (one per business rule, plus the generic ones)."""
    return list(_CATALOGUE)


def problem_component(error: type[DomainError]) -> dict[str, Any]:
    """The OpenAPI component schema of one problem type."""
    description = (error.__doc__ or error.title).strip()
    return {
        "title": error.title,
        "description": description,
        "allOf": [{"$ref": "#/components/schemas/Problem"}],
        "properties": {
            "type": {"const": error.problem_type()},
            "status": {"const": error.status},
        },
        "x-problem-code": error.code,
    }


def problems(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the problems it may answer, grouped by status::

    @router.post("/v1/year-end", responses=problems(YearNotOver, YearEndLocked))
    """
    by_status: dict[int, list[type[DomainError]]] = {}
    for error in errors:
        by_status.setdefault(error.status, []).append(error)
    out: dict[int | str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        refs = [{"$ref": f"#/components/schemas/{e.schema_name()}"} for e in group]
        out[status] = {
            "description": "; ".join(e.title for e in group),
            "content": {
                PROBLEM_CONTENT_TYPE: {
                    # The generic Problem too: the chassis may answer this status on its own.
                    "schema": {"anyOf": [*refs, {"$ref": "#/components/schemas/Problem"}]}
                }
            },
        }
    return out
