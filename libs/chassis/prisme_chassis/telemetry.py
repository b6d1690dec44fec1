"""OpenTelemetry traces and JSON logs carrying the trace id.

One :class:`TracerProvider` per process (OpenTelemetry allows only one global provider): the
first :func:`setup_telemetry` call names it; later calls only adjust logging and may add the
OTLP exporter.  Spans are exported over OTLP/HTTP only when an endpoint is configured;
tests attach an in-memory exporter with :func:`add_span_processor`.

Trace context crosses the bus as W3C ``traceparent`` in NATS headers:
:func:`inject_headers` on publish, :func:`extract_context` on receive.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Health and scrape routes produce no spans (they would drown the useful ones).
EXCLUDED_URLS = "/healthz$,/readyz$,/metrics$"

_lock = threading.Lock()
_provider: TracerProvider | None = None
_exporting_to: set[str] = set()
_clients_instrumented = False
_path_redactions: list[tuple[re.Pattern[str], str]] = []

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_RECORD_ATTRS = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",
    }
)


def _json_fallback(value: object) -> object:
    """Make any extra loggable: non-JSON values become their ``str`` (or ``repr``)."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a broken __str__ must never break logging
        return f"<unprintable {type(value).__name__}>"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, service, trace_id,
    span_id, the record's ``extra`` fields, and ``exception`` with the traceback if any."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        else:
            entry["trace_id"] = None
            entry["span_id"] = None
        for key, value in record.__dict__.items():
            if key not in _STANDARD_RECORD_ATTRS and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info))
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        try:
            return json.dumps(entry, default=_json_fallback, ensure_ascii=False)
        except (TypeError, ValueError):
            # e.g. a circular structure or non-string keys inside an extra
            safe = {key: _json_fallback(value) for key, value in entry.items()}
            return json.dumps(safe, ensure_ascii=False)


class _TelemetryHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marker class so repeated setup replaces our handler instead of adding another."""


def _traces_url(endpoint: str) -> str:
    # OTEL convention: a bare collector address gets the signal path appended.
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


class _RecordWhenExported(Sampler):
    """Record spans only once something receives them (an OTLP exporter, a test's processor).

    Until then spans are non-recording but keep real trace ids, so ``traceparent`` still links
    a request, its events and their consumers, and logs still carry the trace id — at a
    fraction of the cost of building spans nobody reads (measured by bench/bus.py).
    """

    recording = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if self.recording:
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)
        return SamplingResult(Decision.DROP)

    def get_description(self) -> str:
        return "RecordWhenExported"


_sampler = _RecordWhenExported()


def _ensure_provider(service_name: str) -> TracerProvider:
    global _provider
    if _provider is None:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            _provider = current
        else:
            _provider = TracerProvider(
                resource=Resource.create({SERVICE_NAME: service_name}), sampler=_sampler
            )
            trace.set_tracer_provider(_provider)
    return _provider


def setup_telemetry(service_name: str, otlp_endpoint: str | None, log_level: str) -> None:
    """Configure tracing and JSON logging to stderr for this process (safe to call again)."""
    with _lock:
        provider = _ensure_provider(service_name)
        if otlp_endpoint and otlp_endpoint not in _exporting_to:
            # imported only when spans leave the process: the exporter and its protobuf
            # runtime weigh ~16 MB in every service (P5)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=_traces_url(otlp_endpoint)))
            )
            _sampler.recording = True
            _exporting_to.add(otlp_endpoint)

        root = logging.getLogger()
        for handler in list(root.handlers):
            if isinstance(handler, _TelemetryHandler):
                root.removeHandler(handler)
        handler = _TelemetryHandler(sys.stderr)
        handler.setFormatter(JsonFormatter(service_name))
        root.addHandler(handler)
        root.setLevel(log_level.upper())
        # httpx logs every request URL at INFO; URLs may carry link tokens (DESIGN §7).
        logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))


def add_span_processor(processor: SpanProcessor) -> None:
    """Attach a span processor (tests: ``SimpleSpanProcessor(InMemorySpanExporter())``).

    Creates the process's provider if :func:`setup_telemetry` has not run yet; its service
    name is then ``unknown_service``.
    """
    with _lock:
        _ensure_provider("unknown_service").add_span_processor(processor)
        _sampler.recording = True


def redact_url_paths(pattern: str, replacement: str) -> None:
    """Replace matches of ``pattern`` in the URL attributes of server spans.

    For secrets carried in paths (DESIGN §7), e.g. video-svc's ``/v/<token>``: the
    instrumentation records ``http.target``/``http.url``; they are rewritten before export.
    """
    with _lock:
        if all(existing.pattern != pattern for existing, _ in _path_redactions):
            _path_redactions.append((re.compile(pattern), replacement))


def _redact_server_span(span: trace.Span, scope: dict[str, Any]) -> None:
    if not _path_redactions or not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for key, value in list(attributes.items()):
        if not isinstance(value, str):
            continue
        cleaned = value
        for pattern, replacement in _path_redactions:
            cleaned = pattern.sub(replacement, cleaned)
        if cleaned != value:
            span.set_attribute(key, cleaned)


#: ``FastAPI(telemetry=...)`` for the chassis' apps: FastAPI's own OpenTelemetry support (a
#: server span plus dependency/endpoint/serialisation spans and meters on every request, with
#: unredacted paths) is off; :class:`ServerSpanMiddleware` gives the one span we read.
FASTAPI_NATIVE_OFF: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}

_EXCLUDED = re.compile("|".join(EXCLUDED_URLS.split(",")))
_PROPAGATED = frozenset({b"traceparent", b"tracestate", b"baggage"})


class ServerSpanMiddleware:
    """One SERVER span per HTTP request (``GET /v1/x/{id}``), continuing an incoming
    ``traceparent``; a pure ASGI middleware.

    Replaces opentelemetry-instrumentation-fastapi's middleware, which matched every route
    and collected a dozen request attributes up front on every request, recording or not (an
    eighth of contracts-svc's CPU under load, bench/api.py). Here a non-recording span costs a
    context switch only; attributes (method, route, target, status) are set once the request
    is done and only when the span records, after the path redactions
    (:func:`redact_url_paths`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.tracer = trace.get_tracer("prisme_chassis.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _EXCLUDED.search(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name in _PROPAGATED
        }
        parent = propagate.extract(carrier) if carrier else None
        method = str(scope.get("method", "GET"))
        span = self.tracer.start_span(method, context=parent, kind=trace.SpanKind.SERVER)
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with trace.use_span(span, end_on_exit=True, record_exception=False):
            try:
                await self.app(scope, receive, recording_send)
            except Exception as exc:
                if span.is_recording():
                    span.record_exception(exc)
                raise
            finally:
                if span.is_recording():
                    _describe_server_span(span, scope, method, status)


def _describe_server_span(span: trace.Span, scope: Scope, method: str, status: int) -> None:
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str) and template:
        span.update_name(f"{method} {template}")
        span.set_attribute("http.route", template)
    query = scope.get("query_string", b"")
    target = str(scope.get("path", "")) + (f"?{query.decode('latin-1')}" if query else "")
    span.set_attribute("http.method", method)
    span.set_attribute("http.target", target)
    span.set_attribute("http.scheme", str(scope.get("scheme", "http")))
    span.set_attribute("http.status_code", status)
    if status >= 500:
        span.set_status(trace.Status(trace.StatusCode.ERROR))
    _redact_server_span(span, dict(scope))


def instrument_app(app: FastAPI) -> None:
    """Server spans for every route except health and metrics (idempotent)."""
    if getattr(app.state, "_prisme_server_spans", False):
        return
    app.state._prisme_server_spans = True
    app.add_middleware(ServerSpanMiddleware)


def instrument_clients() -> None:
    """Client spans for httpx and asyncpg (query text only, never parameters); once."""
    global _clients_instrumented
    with _lock:
        if _clients_instrumented:
            return
        HTTPXClientInstrumentor().instrument()
        AsyncPGInstrumentor(capture_parameters=False).instrument()  # type: ignore[no-untyped-call]
        _clients_instrumented = True


def tracer(name: str) -> trace.Tracer:
    """A tracer from the process's provider (a no-op one until telemetry is set up)."""
    return trace.get_tracer(name)


def inject_headers(headers: dict[str, str]) -> None:
    """Write the current trace context (``traceparent``, ``tracestate``) into ``headers``."""
    propagate.inject(headers)


def extract_context(headers: Mapping[str, str] | None) -> Context:
    """The trace context carried by message ``headers`` (an empty context if none)."""
    return propagate.extract(dict(headers or {}))


def current_trace_id() -> str | None:
    """The current span's trace id as 32 hex digits, or ``None`` outside a recorded span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None
