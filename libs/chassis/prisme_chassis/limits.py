"""Request body limits (DESIGN.md §7): every body is capped as it streams in, before any route
reads it and before authentication.

:class:`BodyLimitMiddleware` wraps the ASGI ``receive`` of every HTTP request:

- a declared ``Content-Length`` over the route's limit is answered 413 at once: the app is not
  called, nothing of the body is read;
- otherwise bytes are counted as they arrive and the first chunk past the limit stops the
  reading: whatever the route was doing, the answer is the 413 problem;
- a ``multipart/form-data`` body is also inspected as it streams (python-multipart, the parser
  Starlette and video-svc use): at most :data:`MAX_PARTS` parts, each text field (a part
  without a ``filename``, named or not) at most :data:`MAX_FIELD_BYTES`; the parser itself caps
  each part's headers (count and bytes).

The limit is :data:`DEFAULT_BODY_LIMIT` (1 MiB: JSON, forms, webhooks) unless the service gives
a route its own (``ServiceSpec.body_limits``, e.g. ``{"POST /v1/videos": …}`` from its
settings).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import PROBLEM_CONTENT_TYPE, DomainError

DEFAULT_BODY_LIMIT = 1024 * 1024
MAX_PARTS = 200
MAX_FIELD_BYTES = 64 * 1024


class BodyTooLarge(DomainError):
    """The request body exceeds the route's limit; it was not read further."""

    status = 413
    code = "body-too-large"
    title = "Corps de requête trop volumineux"


class TooManyParts(DomainError):
    """The multipart form has more parts than the platform accepts."""

    status = 413
    code = "too-many-parts"
    title = "Formulaire en trop de parties"


class FormFieldTooLarge(DomainError):
    """A text field of the multipart form (a part without a file name) is too long."""

    status = 413
    code = "form-field-too-large"
    title = "Champ de formulaire trop long"


class MalformedMultipart(DomainError):
    """A part's headers are too many or too long for the multipart parser."""

    status = 413
    code = "multipart-headers-too-large"
    title = "En-têtes de partie trop volumineux"


#: What the limits may answer, for the OpenAPI document of every route taking a body.
LIMIT_ERRORS: tuple[type[DomainError], ...] = (
    BodyTooLarge,
    TooManyParts,
    FormFieldTooLarge,
    MalformedMultipart,
)


@dataclass(frozen=True)
class BodyLimits:
    """Caps of one app: ``routes`` maps ``"METHOD /path/{template}"`` to its byte limit."""

    default: int = DEFAULT_BODY_LIMIT
    routes: Mapping[str, int] = field(default_factory=dict)
    max_parts: int = MAX_PARTS
    max_field_bytes: int = MAX_FIELD_BYTES


class _Refused(HTTPException):
    """Raised to the app by ``receive`` once the body broke a limit; the 413 problem goes out.

    An HTTP exception so that the app answers it without logging a traceback (FastAPI's body
    parsing passes HTTP exceptions through); the middleware replaces that answer with its own.
    """

    def __init__(self) -> None:
        super().__init__(413)


class MultipartInspector:
    """Counts parts and text-field bytes of a multipart body fed chunk by chunk.

    ``feed`` returns the first limit broken (and keeps returning it), or None. A body the
    parser cannot read is left to the route's own parser (it is the same library): the
    inspector then stops looking, the byte count still applies.
    """

    def __init__(self, boundary: bytes, *, max_parts: int, max_field_bytes: int) -> None:
        self.max_parts = max_parts
        self.max_field_bytes = max_field_bytes
        self.parts = 0
        self.error: DomainError | None = None
        self.gave_up = False
        self._disposition = bytearray()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._is_file = False
        self._field_bytes = 0
        try:
            self._parser: MultipartParser | None = MultipartParser(
                boundary,
                self._callbacks(),  # type: ignore[arg-type]
            )
        except FormParserError:  # e.g. a boundary too long: the route's parser refuses it
            self._parser, self.gave_up = None, True

    def _callbacks(self) -> dict[str, Any]:
        def part_begin() -> None:
            self.parts += 1
            self._is_file = False
            self._field_bytes = 0
            self._disposition.clear()
            if self.parts > self.max_parts and self.error is None:
                self.error = TooManyParts(f"au plus {self.max_parts} parties par formulaire")

        def header_field(data: bytes, start: int, end: int) -> None:
            self._header_name += data[start:end]

        def header_value(data: bytes, start: int, end: int) -> None:
            self._header_value += data[start:end]

        def header_end() -> None:
            if bytes(self._header_name).lower() == b"content-disposition":
                self._disposition[:] = self._header_value
            self._header_name.clear()
            self._header_value.clear()

        def headers_finished() -> None:
            _, params = parse_options_header(bytes(self._disposition))
            self._is_file = b"filename" in params

        def part_data(data: bytes, start: int, end: int) -> None:
            if self._is_file:
                return
            self._field_bytes += end - start
            if self._field_bytes > self.max_field_bytes and self.error is None:
                self.error = FormFieldTooLarge(
                    f"un champ de formulaire est limité à {self.max_field_bytes} octets"
                )

        return {
            "on_part_begin": part_begin,
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_headers_finished": headers_finished,
            "on_part_data": part_data,
        }

    def feed(self, chunk: bytes) -> DomainError | None:
        if self.error is not None or self._parser is None or self.gave_up or not chunk:
            return self.error
        try:
            self._parser.write(chunk)
        except FormParserError as exc:
            if str(exc).startswith("Maximum header"):
                self.error = MalformedMultipart("en-têtes de partie trop nombreux ou trop longs")
            else:
                self.gave_up = True
        return self.error


def multipart_boundary(content_type: str) -> bytes | None:
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        return None
    return params.get(b"boundary") or None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _send_problem(send: Send, error: DomainError, instance: str) -> None:
    body = json.dumps(error.to_problem(instance), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Enforces :class:`BodyLimits` on every HTTP request (see the module docstring).

    Before routing, so before any dependency (authentication, transaction) runs: a route's own
    limit is found by matching its ``"METHOD /path/{template}"`` key here.
    """

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits
        self._routes: list[tuple[str, re.Pattern[str], int]] = []
        for key, limit in limits.routes.items():
            method, _, template = key.partition(" ")
            regex, _, _ = compile_path(template)
            self._routes.append((method, regex, limit))

    def limit_for(self, scope: Scope) -> int:
        method, path = scope.get("method"), str(scope.get("path", ""))
        for route_method, regex, limit in self._routes:
            if route_method == method and regex.match(path):
                return limit
        return self.limits.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is None and _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body
            return
        limit = self.limit_for(scope)
        instance = str(scope.get("path", ""))
        too_large = BodyTooLarge(f"le corps de cette requête est limité à {limit} octets")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _send_problem(send, too_large, instance)
            return
        content_type = _header(scope, b"content-type") or ""
        boundary = multipart_boundary(content_type) if "multipart" in content_type else None
        inspector = (
            MultipartInspector(
                boundary,
                max_parts=self.limits.max_parts,
                max_field_bytes=self.limits.max_field_bytes,
            )
            if boundary
            else None
        )
        received = 0
        refused: DomainError | None = None
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused is not None:
                raise _Refused()
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    refused = too_large
                elif inspector is not None:
                    refused = inspector.feed(chunk)
                if refused is not None:
                    raise _Refused()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused is not None and not started:
                return  # the route's answer to a refused body is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if refused is None or started:
                raise
        if refused is not None and not started:
            await _send_problem(send, refused, instance)
