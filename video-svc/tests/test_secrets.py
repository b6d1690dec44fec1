"""R5/V2: link tokens and passwords never appear in clear in logs, spans, events or tables."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import nats
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prisme_chassis import telemetry


def _needles(token: str, password: str) -> list[str]:
    return [token, password, token.encode().hex(), password.encode().hex()]


async def _table_dump(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        assert {"links", "access_log", "videos", "outbox"} <= {t["tablename"] for t in tables}
        parts = []
        for t in tables:
            rows = await conn.fetch(f'SELECT t::text AS row FROM "{t["tablename"]}" t')  # noqa: S608
            parts += [r["row"] for r in rows]
        return "\n".join(parts)
    finally:
        await conn.close()


async def _raw_events(nats_url: str) -> str:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        texts = []
        for stream in ("VIDEOS",):
            info = await js.stream_info(stream)
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(stream, seq)
                texts.append(msg.data.decode() + repr(msg.headers))
        return "\n".join(texts)
    finally:
        await nc.close()


async def test_no_token_or_password_in_clear_anywhere(
    svc: Any, small_mp4: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    spans = InMemorySpanExporter()
    telemetry.add_span_processor(SimpleSpanProcessor(spans))
    try:
        await _exercise_and_search(svc, small_mp4, caplog, spans)
    finally:
        spans.shutdown()  # the processor stays registered; a shut-down exporter keeps nothing


async def _exercise_and_search(
    svc: Any, small_mp4: bytes, caplog: pytest.LogCaptureFixture, spans: InMemorySpanExporter
) -> None:

    contract = await svc.activate()
    video_id = (await svc.upload(contract, small_mp4)).json()["id"]
    links = [await svc.share(video_id) for _ in range(2)]
    secrets: list[str] = []
    for link in links:
        token = link["url"].rsplit("/v/", 1)[1]
        secrets += _needles(token, link["password"])
        path = f"/v/{token}"
        async with svc.viewer() as viewer:
            await viewer.get(path)
            await viewer.post(path, data={"password": link["password"] + "x"})
            await viewer.post(path, data={"password": link["password"]})
            await viewer.get(f"{path}/stream", headers={"Range": "bytes=0-99"})
            await viewer.get(f"{path}/stream/../stream")
    await svc.end(contract)
    await svc.wait_contract(contract.contract_id, "ended")
    async with svc.viewer() as viewer:
        token = links[0]["url"].rsplit("/v/", 1)[1]
        assert (await viewer.get(f"/v/{token}/stream")).status_code == 410

    listed = await svc.client.get("/v1/links", params={"video_id": video_id})
    log_api = await svc.client.get("/v1/access-log", params={"video_id": video_id})
    haystacks = {
        "tables": await _table_dump(svc.dsn),
        "events": await _raw_events(svc.nats_url),
        # httpx/httpcore records come from the test's own clients (the browser side).
        "logs": "\n".join(
            f"{r.getMessage()} {r.__dict__!r}"
            for r in caplog.records
            if not r.name.startswith(("httpx", "httpcore"))
        ),
        # Client spans are the test's own httpx clients (the browser side); the service's are
        # server and internal spans.
        "spans": "\n".join(
            s.to_json() for s in spans.get_finished_spans() if s.kind != SpanKind.CLIENT
        ),
        "api": listed.text + log_api.text,
    }
    assert "password_hash" not in haystacks["api"]
    assert len(haystacks["logs"]) > 0
    assert len(haystacks["spans"]) > 0
    assert "argon2id" in haystacks["tables"]
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a link secret appears in clear in {where}"
