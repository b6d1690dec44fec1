"""The bus against a real nats-server -js and PostgreSQL, through the demo service."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from prisme_events import cloudevent_headers, encode
from prisme_localinfra import NatsServer, PostgresServer
from prisme_testing.demo.app import DemoItemCreated, DemoSettings, build_app
from prisme_testing.demo.process import demo_process
from prisme_testing.polling import eventually
from prisme_testing.runner import start_service


async def effects(dsn: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch("SELECT item_id, event_id, trace_id FROM effects ORDER BY seq")
    finally:
        await conn.close()


async def stream_count(nats_url: str, stream: str = "DEMO") -> int:
    nc = await nats.connect(nats_url)
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    finally:
        await nc.close()


@pytest.fixture
async def demo(
    new_database: Callable[[], Awaitable[str]], base_settings: dict[str, Any]
) -> tuple[DemoSettings, str]:
    dsn = await new_database()
    return DemoSettings(**base_settings, database_url=dsn), dsn


async def test_committed_event_reaches_consumer_once(
    demo: tuple[DemoSettings, str], auth_headers: dict[str, str]
) -> None:
    settings, dsn = demo
    async with start_service(build_app(settings), headers=auth_headers) as client:
        ids = [(await client.post("/items", json={"n": i})).json()["id"] for i in range(5)]

        async def all_applied() -> bool:
            return len(await effects(dsn)) >= 5

        await eventually(all_applied)
        await asyncio.sleep(0.3)  # leave room for a (wrong) second application
        rows = await effects(dsn)
        assert sorted(str(r["item_id"]) for r in rows) == sorted(ids)


async def test_rollback_publishes_nothing(
    demo: tuple[DemoSettings, str], auth_headers: dict[str, str], nats_url: str
) -> None:
    settings, dsn = demo
    async with start_service(build_app(settings), headers=auth_headers) as client:
        resp = await client.post("/items", json={"n": 1, "rollback": True})
        assert resp.status_code == 500
        assert resp.headers["content-type"].startswith("application/problem+json")
        ok = await client.post("/items", json={"n": 2})
        assert ok.status_code == 201

        async def one_applied() -> bool:
            return len(await effects(dsn)) == 1

        await eventually(one_applied)
        await asyncio.sleep(0.3)
        assert await stream_count(nats_url) == 1
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM items") == 1
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
        finally:
            await conn.close()


async def test_duplicate_message_has_no_second_effect(
    demo: tuple[DemoSettings, str], auth_headers: dict[str, str], nats_url: str
) -> None:
    settings, dsn = demo
    async with start_service(build_app(settings), headers=auth_headers) as client:
        item = (await client.post("/items", json={"n": 7})).json()["id"]

        async def applied() -> bool:
            return len(await effects(dsn)) == 1

        await eventually(applied)
        event_id = (await effects(dsn))[0]["event_id"]
        # The same event published again under another Nats-Msg-Id gets past JetStream's
        # de-duplication: only the inbox stands between it and a second effect.
        event = DemoItemCreated(event_id=event_id, item_id=uuid.UUID(item), n=7)
        nc = await nats.connect(nats_url)
        js = nc.jetstream()
        for _ in range(3):
            headers = cloudevent_headers(event) | {"Nats-Msg-Id": uuid.uuid4().hex}
            await js.publish(event.subject, encode(event), headers=headers)
        await nc.close()
        await eventually(lambda: _consumed(client, 4))
        assert len(await effects(dsn)) == 1


async def _consumed(client: httpx.AsyncClient, n: int) -> bool:
    text = (await client.get("/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("prisme_events_consumed_total{") and 'durable="demo-items"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total >= n


async def test_failing_handler_is_retried_then_dead_lettered_and_replayed(
    demo: tuple[DemoSettings, str], auth_headers: dict[str, str]
) -> None:
    settings, dsn = demo
    async with start_service(build_app(settings), headers=auth_headers) as client:
        item = (await client.post("/items", json={"n": 1, "poison": True})).json()["id"]

        async def dead() -> bool:
            return bool((await client.get("/v1/dead-letters")).json()["items"])

        await eventually(dead)
        [letter] = (await client.get("/v1/dead-letters")).json()["items"]
        assert letter["durable"] == "demo-items"
        assert letter["subject"] == "demo.item_created"
        assert letter["delivered"] == 3  # max_deliver of the demo subscription
        assert "poisoned" in letter["error"]
        assert await effects(dsn) == []

        # Replaying before the cause is fixed fails and keeps the letter.
        assert (await client.post(f"/v1/dead-letters/{letter['seq']}/replay")).status_code == 422
        assert (await client.post(f"/items/{item}/cure")).status_code == 204
        assert (await client.post(f"/v1/dead-letters/{letter['seq']}/replay")).status_code == 204
        assert [str(r["item_id"]) for r in await effects(dsn)] == [item]
        assert (await client.get("/v1/dead-letters")).json()["items"] == []
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT actor, target_id, detail FROM audit_trail"
                " WHERE action = 'dead_letter.replayed'"
            )
        finally:
            await conn.close()
        assert [(r["target_id"], json.loads(r["detail"])["event_id"]) for r in rows] == [
            (str(letter["seq"]), letter["event_id"])
        ]
        # A second replay of the same letter is refused: it is gone.
        assert (await client.post(f"/v1/dead-letters/{letter['seq']}/replay")).status_code == 404


async def test_dead_letters_are_listed_in_keyset_pages(
    demo: tuple[DemoSettings, str], auth_headers: dict[str, str]
) -> None:
    settings, _ = demo
    async with start_service(build_app(settings), headers=auth_headers) as client:
        for n in range(3):
            assert (await client.post("/items", json={"n": n, "poison": True})).status_code < 300

        async def three() -> bool:
            return len((await client.get("/v1/dead-letters")).json()["items"]) == 3

        await eventually(three)
        seen, cursor, pages = [], None, 0
        while True:
            params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/dead-letters", params=params)).json()
            pages += 1
            seen += [d["seq"] for d in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == 3  # the page fetches one more letter: the last one knows it is last
        assert len(seen) == 3
        assert seen == sorted(set(seen))  # oldest first, each once
        bad = await client.get("/v1/dead-letters", params={"cursor": "not-a-cursor!"})
        assert bad.status_code == 422
        assert bad.json()["type"].endswith("/invalid-cursor")


async def test_a_replay_and_its_audit_row_commit_together(
    demo: tuple[DemoSettings, str], auth_headers: dict[str, str]
) -> None:
    """O3: what runs after the handler in a replay (the audit row) is in its transaction: when
    it fails, the effect is rolled back and the letter is kept."""
    settings, dsn = demo
    app = build_app(settings)
    async with start_service(app, headers=auth_headers) as client:
        item = (await client.post("/items", json={"n": 1, "poison": True})).json()["id"]

        async def dead() -> bool:
            return bool((await client.get("/v1/dead-letters")).json()["items"])

        await eventually(dead)
        [letter] = (await client.get("/v1/dead-letters")).json()["items"]
        assert (await client.post(f"/items/{item}/cure")).status_code == 204

        class Boom(Exception):
            pass

        async def fails(conn: asyncpg.Connection, replayed: Any) -> None:
            assert replayed.seq == letter["seq"]
            raise Boom

        with pytest.raises(Boom):
            await app.state.runtime.consumers["demo-items"].replay(letter["seq"], then=fails)
        assert await effects(dsn) == []
        assert [d["seq"] for d in (await client.get("/v1/dead-letters")).json()["items"]] == [
            letter["seq"]
        ]


async def test_dead_letter_routes_need_admin(
    demo: tuple[DemoSettings, str], make_token: Callable[..., str]
) -> None:
    settings, _ = demo
    async with start_service(build_app(settings)) as client:
        assert (await client.get("/v1/dead-letters")).status_code == 401
        reader = {"Authorization": f"Bearer {make_token(scopes=['contracts:read'])}"}
        assert (await client.get("/v1/dead-letters", headers=reader)).status_code == 403


async def _assert_exactly_once(dsn: str, expected: int, timeout: float = 60.0) -> None:
    async def all_there() -> bool:
        return len(await effects(dsn)) >= expected

    await eventually(all_there, timeout)
    await asyncio.sleep(0.5)
    rows = await effects(dsn)
    assert len(rows) == expected
    assert len({r["item_id"] for r in rows}) == expected


async def test_sigkill_mid_batch_loses_and_duplicates_nothing(
    demo: tuple[DemoSettings, str],
    auth_headers: dict[str, str],
    tmp_path: Any,
    platform_keys: tuple[str, str],
    nats_url: str,
) -> None:
    _, dsn = demo
    proc = demo_process(dsn, nats_url, platform_keys[1], tmp_path)
    proc.start()
    try:
        await proc.wait_ready()
        async with httpx.AsyncClient(base_url=proc.url, headers=auth_headers) as client:
            for _ in range(4):
                assert (await client.post("/items/bulk", json={"count": 500})).status_code == 201

        async def some_applied() -> bool:
            return len(await effects(dsn)) > 0

        await eventually(some_applied)
        proc.kill()
        assert len(await effects(dsn)) < 2000  # killed mid-stream
        proc.start()
        await proc.wait_ready()
        await _assert_exactly_once(dsn, 2000)
    finally:
        proc.kill()


async def test_nats_restart_mid_stream(
    demo: tuple[DemoSettings, str], auth_headers: dict[str, str], nats_server: NatsServer
) -> None:
    settings, dsn = demo
    async with start_service(build_app(settings), headers=auth_headers) as client:
        await client.post("/items/bulk", json={"count": 500})
        nats_server.restart()
        await client.post("/items/bulk", json={"count": 500})
        nats_server.kill()
        # Written while NATS is down: kept in the outbox until it is back.
        assert (await client.post("/items/bulk", json={"count": 500})).status_code == 201
        nats_server.start()
        await _assert_exactly_once(dsn, 1500)


async def test_postgres_restart_mid_stream(
    demo: tuple[DemoSettings, str], auth_headers: dict[str, str], pg: PostgresServer
) -> None:
    settings, dsn = demo
    async with start_service(build_app(settings), headers=auth_headers) as client:
        for _ in range(3):
            await client.post("/items/bulk", json={"count": 500})
        pg.restart()
        for _ in range(60):  # the pool reconnects on its own
            if (await client.post("/items/bulk", json={"count": 500})).status_code == 201:
                break
            await asyncio.sleep(0.2)
        await _assert_exactly_once(dsn, 2000)


async def test_sigterm_drains_gracefully_and_resumes(
    demo: tuple[DemoSettings, str],
    auth_headers: dict[str, str],
    tmp_path: Any,
    platform_keys: tuple[str, str],
    nats_url: str,
) -> None:
    _, dsn = demo
    proc = demo_process(dsn, nats_url, platform_keys[1], tmp_path)
    proc.start()
    try:
        await proc.wait_ready()
        async with httpx.AsyncClient(base_url=proc.url, headers=auth_headers) as client:
            for _ in range(4):
                assert (await client.post("/items/bulk", json={"count": 500})).status_code == 201
        # SIGTERM: finishes its batch, drains, exits by itself (uvicorn re-raises the signal
        # after its graceful shutdown, hence -SIGTERM rather than 0).
        assert proc.terminate() in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in (tmp_path / "demo.log").read_text()
        proc.start()
        await proc.wait_ready()
        await _assert_exactly_once(dsn, 2000)
    finally:
        proc.kill()


async def test_batch_handler_isolates_a_failing_event(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
) -> None:
    dsn = await new_database()
    settings = DemoSettings(**base_settings, database_url=dsn, batch_effects=True)
    async with start_service(build_app(settings), headers=auth_headers) as client:
        poisoned = (await client.post("/items", json={"n": 0, "poison": True})).json()["id"]
        assert (await client.post("/items/bulk", json={"count": 300})).status_code == 201
        await _assert_exactly_once(dsn, 300)
        assert poisoned not in {str(r["item_id"]) for r in await effects(dsn)}

        async def dead() -> bool:
            return bool((await client.get("/v1/dead-letters")).json()["items"])

        await eventually(dead)
        [letter] = (await client.get("/v1/dead-letters")).json()["items"]
        assert "poisoned" in letter["error"]
