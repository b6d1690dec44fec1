"""The app factory on a running service: one trace across HTTP → event → consumer; R4."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from prisme_chassis.telemetry import add_span_processor
from prisme_testing.demo.app import DemoSettings, build_app
from prisme_testing.runner import start_service
from prisme_testing.security import assert_routes_protected


class Collect(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Any) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


async def test_one_trace_links_request_event_and_consumer(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
) -> None:
    dsn = await new_database()
    app = build_app(DemoSettings(**base_settings, database_url=dsn))
    exporter = Collect()
    add_span_processor(SimpleSpanProcessor(exporter))
    async with start_service(app, headers=auth_headers) as client:
        # The caller's span: its context travels in the request's traceparent header.
        with trace.get_tracer("test").start_as_current_span("operator action") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            resp = await client.post("/items", json={"n": 1})
        assert resp.status_code == 201
        conn = await asyncpg.connect(dsn)
        try:
            for _ in range(200):
                effect = await conn.fetchval("SELECT trace_id FROM effects")
                if effect:
                    break
                await asyncio.sleep(0.05)
        finally:
            await conn.close()
    # The consumer's transaction ran inside the trace the HTTP request started.
    assert effect == trace_id
    mine = [s for s in exporter.spans if format(s.context.trace_id, "032x") == trace_id]
    names = {s.name for s in mine}
    assert "demo.item_created publish" in names
    assert "demo.item_created receive" in names
    receive = next(s for s in mine if s.name == "demo.item_created receive")
    assert receive.attributes is not None
    assert receive.attributes["messaging.nats.delivery_count"] == 1
    assert any(s.name.startswith("POST /items") for s in mine)  # the FastAPI server span


async def test_every_route_refuses_missing_or_bad_tokens(
    new_database: Callable[[], Awaitable[str]], base_settings: dict[str, Any]
) -> None:
    app = build_app(DemoSettings(**base_settings, database_url=await new_database()))
    async with start_service(app) as client:
        checked = await assert_routes_protected(client, app)
        assert checked >= 5  # the demo's routes and the chassis' dead-letter routes
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).json()["checks"] == {"database": True, "bus": True}
