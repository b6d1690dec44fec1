"""JSON logs carry the trace id; trace context crosses message headers; health is not traced."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prisme_chassis import telemetry
from prisme_chassis.http import health_router, install_problem_handlers

SERVICE = "telemetry-test-svc"
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def tracing() -> None:
    telemetry.setup_telemetry(SERVICE, None, "INFO")
    telemetry.add_span_processor(SimpleSpanProcessor(_EXPORTER))


@pytest.fixture
def spans() -> InMemorySpanExporter:
    _EXPORTER.clear()
    return _EXPORTER


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Point the chassis handler at a buffer for one test, then back at stderr."""
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    ours = [h for h in handlers if isinstance(h.formatter, telemetry.JsonFormatter)]
    assert len(ours) == 1
    buffer = io.StringIO()
    previous = ours[0].setStream(buffer)
    try:
        yield buffer
    finally:
        ours[0].setStream(previous or sys.stderr)


def parsed(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_setup_is_idempotent() -> None:
    telemetry.setup_telemetry(SERVICE, None, "INFO")
    telemetry.setup_telemetry(SERVICE, None, "DEBUG")
    ours = [
        h
        for h in logging.getLogger().handlers
        if isinstance(getattr(h, "formatter", None), telemetry.JsonFormatter)
    ]
    assert len(ours) == 1
    assert logging.getLogger().level == logging.DEBUG
    telemetry.setup_telemetry(SERVICE, None, "INFO")
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    # the first service set up in the process names the provider (one per process)
    assert provider.resource.attributes["service.name"]


def test_log_line_outside_span(log_lines: io.StringIO) -> None:
    logging.getLogger("prisme.test").warning("disk %s full", "/data", extra={"percent": 97})
    (line,) = parsed(log_lines)
    assert line["message"] == "disk /data full"
    assert line["level"] == "WARNING"
    assert line["logger"] == "prisme.test"
    assert line["service"] == SERVICE
    assert line["percent"] == 97
    assert line["trace_id"] is None
    assert line["span_id"] is None
    assert line["timestamp"].endswith("+00:00")


def test_log_line_carries_current_span(log_lines: io.StringIO, spans: InMemorySpanExporter) -> None:
    with telemetry.tracer("test").start_as_current_span("work") as span:
        logging.getLogger("prisme.test").info("inside")
        assert telemetry.current_trace_id() == format(span.get_span_context().trace_id, "032x")
    (line,) = parsed(log_lines)
    (finished,) = spans.get_finished_spans()
    assert finished.context is not None
    assert line["trace_id"] == format(finished.context.trace_id, "032x")
    assert line["span_id"] == format(finished.context.span_id, "016x")


def test_non_serialisable_extras_never_crash(log_lines: io.StringIO) -> None:
    circular: list[Any] = []
    circular.append(circular)

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    log = logging.getLogger("prisme.test")
    log.info("object", extra={"thing": object(), "when": {1, 2}})
    log.info("circular", extra={"loop": circular})
    log.info("unprintable", extra={"bad": Unprintable()})
    lines = parsed(log_lines)
    assert [line["message"] for line in lines] == ["object", "circular", "unprintable"]
    assert "object object" in lines[0]["thing"]
    assert lines[2]["bad"] == "<unprintable Unprintable>"


def test_exception_traceback_in_log(log_lines: io.StringIO) -> None:
    try:
        raise ValueError("bad input")
    except ValueError:
        logging.getLogger("prisme.test").exception("failed")
    (line,) = parsed(log_lines)
    assert "Traceback" in line["exception"]
    assert "ValueError: bad input" in line["exception"]


def build_app() -> FastAPI:
    app = FastAPI(telemetry=telemetry.FASTAPI_NATIVE_OFF)  # as create_app builds it
    install_problem_handlers(app)
    log = logging.getLogger("prisme.test.api")

    async def ready() -> dict[str, bool]:
        return {"database": True}

    @app.get("/v1/work/{item}")
    async def work(item: int) -> dict[str, str | None]:
        log.info("working", extra={"item": item})
        return {"trace_id": telemetry.current_trace_id()}

    app.include_router(health_router(ready))
    telemetry.instrument_app(app)
    telemetry.instrument_app(app)  # idempotent
    return app


async def test_request_log_line_contains_trace_id(
    log_lines: io.StringIO, spans: InMemorySpanExporter
) -> None:
    transport = httpx.ASGITransport(app=build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.get("/v1/work/7")
        assert response.status_code == 200
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(path)).status_code == 200
    trace_id = response.json()["trace_id"]
    assert trace_id is not None
    assert len(trace_id) == 32
    (line,) = [line for line in parsed(log_lines) if line["message"] == "working"]
    assert line["trace_id"] == trace_id
    assert line["item"] == 7
    server_spans = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert [s.name for s in server_spans] == ["GET /v1/work/{item}"]
    assert server_spans[0].context is not None
    assert format(server_spans[0].context.trace_id, "032x") == trace_id


async def test_incoming_traceparent_is_continued(spans: InMemorySpanExporter) -> None:
    transport = httpx.ASGITransport(app=build_app())
    with telemetry.tracer("test").start_as_current_span("caller"):
        headers: dict[str, str] = {}
        telemetry.inject_headers(headers)
        caller_trace = telemetry.current_trace_id()
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        response = await client.get("/v1/work/1", headers=headers)
    assert response.json()["trace_id"] == caller_trace


def test_headers_round_trip(spans: InMemorySpanExporter) -> None:
    headers: dict[str, str] = {"ce-id": "x"}
    with telemetry.tracer("test").start_as_current_span("contract.ended publish") as publish:
        telemetry.inject_headers(headers)
    assert headers["traceparent"].startswith("00-")
    context = telemetry.extract_context(headers)
    with telemetry.tracer("test").start_as_current_span(
        "contract.ended receive", context=context
    ) as receive:
        assert receive.get_span_context().trace_id == publish.get_span_context().trace_id
    finished = {s.name: s for s in spans.get_finished_spans()}
    received = finished["contract.ended receive"]
    assert received.parent is not None
    assert received.parent.span_id == publish.get_span_context().span_id


def test_extract_without_headers_starts_new_trace() -> None:
    assert telemetry.current_trace_id() is None
    for headers in (None, {}, {"traceparent": "garbage"}):
        context = telemetry.extract_context(headers)
        with telemetry.tracer("test").start_as_current_span("orphan", context=context) as span:
            assert span.parent is None  # type: ignore[attr-defined]


def test_instrument_clients_once() -> None:
    telemetry.instrument_clients()
    telemetry.instrument_clients()
    assert HTTPXClientInstrumentor().is_instrumented_by_opentelemetry
    assert AsyncPGInstrumentor().is_instrumented_by_opentelemetry


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("http://collector:4318/custom/v1/traces", "http://collector:4318/custom/v1/traces"),
    ],
)
def test_otlp_endpoint_path(endpoint: str, url: str) -> None:
    assert telemetry._traces_url(endpoint) == url
