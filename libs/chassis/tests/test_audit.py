"""The audit trail of the chassis (O3): redaction, the caller's transaction, GET /v1/audit,
and the OpenAPI walker on the demo service (every mutating route writes its row)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prisme_chassis import audit
from prisme_chassis.db import connect, create_pool, migrate_service, transaction
from prisme_testing.audit import Call, assert_mutations_audited
from prisme_testing.demo.app import DemoItemCreated, DemoSettings, build_app, spec
from prisme_testing.polling import eventually
from prisme_testing.runner import start_service


def test_redaction_keeps_facts_and_drops_secrets() -> None:
    facts = {
        "id": uuid.UUID(int=1),
        "amount": Decimal("10.50"),
        "on": datetime(2026, 1, 2, tzinfo=UTC),
        "password": "hunter2-hunter2",
        "initial-password": "x",
        "webhook": {"secret": "whsec_abc", "url": "https://example.test/h"},
        "sessions": [{"session_token": "s3cr3t"}],
        "tokens": ["anything"],
        "note": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "jwt": "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln",
        "token_name": "comptabilité",
        "password_changed_at": "2026-01-02",
        "empty_secret": None,
    }
    out = audit.redact(facts)
    assert out["id"] == str(uuid.UUID(int=1))
    assert out["amount"] == "10.50"
    assert out["on"].startswith("2026-01-02")
    assert out["password"] == audit.REDACTED
    assert out["initial-password"] == audit.REDACTED
    assert out["webhook"] == {"secret": audit.REDACTED, "url": "https://example.test/h"}
    assert out["sessions"] == [{"session_token": audit.REDACTED}]
    assert out["tokens"] == audit.REDACTED
    assert out["note"] == audit.REDACTED
    assert out["jwt"] == audit.REDACTED
    assert out["token_name"] == "comptabilité"
    assert out["password_changed_at"] == "2026-01-02"
    assert out["empty_secret"] is None


def test_actor_kinds() -> None:
    assert audit.Actor.system("year-end").sub == "system:year-end"
    assert audit.Actor.system("year-end").kind == "system"
    assert audit.Actor(sub="integration:abc").kind == "integration"
    event = DemoItemCreated(item_id=uuid.uuid4(), n=1)
    by_event = audit.Actor.event(event)
    assert (by_event.sub, by_event.kind) == ("event:demo.item_created", "event")
    assert by_event.request_id == str(event.event_id)
    assert audit.Actor(sub=str(uuid.uuid4()), name="Alice").kind == "operator"


async def test_record_writes_in_the_callers_transaction_only(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    dsn = await new_database()
    pool = await create_pool(dsn)
    try:
        await migrate_service(pool, spec.name, spec.migrations)
        actor = audit.Actor(sub="op-1", name="Alice", address="10.0.0.9")
        conn = await connect(dsn)
        try:
            with pytest.raises(RuntimeError, match="inside the transaction"):
                await audit.record(conn, actor, "thing.changed")
        finally:
            await conn.close()

        class Boom(Exception):
            pass

        async def rolled_back() -> None:
            async with transaction(pool) as tx:
                await audit.record(tx, actor, "thing.rolled_back")
                raise Boom

        with pytest.raises(Boom):
            await rolled_back()
        async with transaction(pool) as tx:
            await audit.record(
                tx,
                actor,
                "thing.changed",
                target_type="thing",
                target_id=42,
                client_id=uuid.UUID(int=7),
                reason="correction",
                before={"n": 1},
                after={"n": 2, "password": "never-stored"},
            )
        async with pool.acquire() as c:
            rows = await c.fetch("SELECT * FROM audit_trail")
        assert [r["action"] for r in rows] == ["thing.changed"]
        row = rows[0]
        assert (row["actor"], row["actor_name"], row["address"]) == ("op-1", "Alice", "10.0.0.9")
        assert (row["target_type"], row["target_id"]) == ("thing", "42")
        assert row["client_id"] == uuid.UUID(int=7)
        assert row["reason"] == "correction"
        assert row["before"] == {"n": 1}
        assert row["after"] == {"n": 2, "password": audit.REDACTED}
        assert row["at"].tzinfo is not None
    finally:
        await pool.close()


async def test_record_many_writes_a_set_in_one_statement(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    """A set-based handler's rows (one INSERT … SELECT FROM unnest), every column kept
    (JSON facts, absent before/after, the practice), secrets redacted, nothing outside a
    transaction."""
    dsn = await new_database()
    pool = await create_pool(dsn)
    try:
        await migrate_service(pool, spec.name, spec.migrations)
        event = DemoItemCreated(item_id=uuid.uuid4(), n=3)
        by = audit.Actor.event(event)
        rows = [
            audit.row(
                by,
                "thing.revoked",
                target_type="thing",
                target_id=i,
                client_id=uuid.UUID(int=i) if i % 2 else None,
                after={"n": i, "token": "never-stored"} if i % 3 else None,
                detail={"batch": [i, "x"]},
            )
            for i in range(1, 1001)
        ]
        conn = await connect(dsn)
        try:
            with pytest.raises(RuntimeError, match="inside the transaction"):
                await audit.record_many(conn, rows)
        finally:
            await conn.close()
        async with transaction(pool) as tx:
            await audit.record_many(tx, [])
            await audit.record_many(tx, rows)
        async with pool.acquire() as c:
            got = await c.fetch("SELECT * FROM audit_trail ORDER BY id")
        assert len(got) == 1000
        assert {r["actor"] for r in got} == {"event:demo.item_created"}
        assert {r["request_id"] for r in got} == {str(event.event_id)}
        assert [r["target_id"] for r in got[:3]] == ["1", "2", "3"]
        assert (got[0]["client_id"], got[1]["client_id"]) == (uuid.UUID(int=1), None)
        assert got[0]["after"] == {"n": 1, "token": audit.REDACTED}
        assert (got[2]["after"], got[2]["before"]) == (None, None)
        assert got[4]["detail"] == {"batch": [5, "x"]}
    finally:
        await pool.close()


async def _dead_job(client: httpx.AsyncClient) -> Call:
    """A delivery without a sink is a permanent failure: dead at once, then retried."""
    item = (await client.post("/items", json={"n": 1})).json()["id"]
    job_id = (await client.post(f"/items/{item}/deliveries")).json()["job_id"]

    async def dead() -> bool:
        jobs = (await client.get("/v1/jobs", params={"state": "dead"})).json()["items"]
        return any(j["id"] == job_id for j in jobs)

    await eventually(dead)
    return Call(f"/v1/jobs/{job_id}/retry")


async def _dead_letter(client: httpx.AsyncClient) -> Call:
    """A poisoned item's event is dead-lettered; once cured, its replay succeeds."""
    item = (await client.post("/items", json={"n": 1, "poison": True})).json()["id"]

    async def letters() -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await client.get("/v1/dead-letters")).json()["items"]
        return found

    await eventually(letters)
    [letter] = await letters()
    assert (await client.post(f"/items/{item}/cure")).status_code == 204
    return Call(f"/v1/dead-letters/{letter['seq']}/replay")


async def _item(client: httpx.AsyncClient, then: str) -> Call:
    item = (await client.post("/items", json={"n": 3})).json()["id"]
    return Call(f"/items/{item}/{then}")


DEMO_EXAMPLES: dict[str, Any] = {
    "POST /items": Call("/items", json={"n": 1}),
    "POST /items/bulk": Call("/items/bulk", json={"count": 2}),
    "POST /items/{item_id}/cure": lambda c: _item(c, "cure"),
    "POST /items/{item_id}/deliveries": lambda c: _item(c, "deliveries"),
    "POST /v1/jobs/{job_id}/retry": _dead_job,
    "POST /v1/dead-letters/{seq}/replay": _dead_letter,
}


async def test_every_mutating_route_of_the_demo_is_audited(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    make_token: Callable[..., str],
) -> None:
    settings = DemoSettings(**base_settings, database_url=await new_database())
    headers = {"Authorization": f"Bearer {make_token(sub='op-walker', name='Walker')}"}
    async with start_service(build_app(settings), headers=headers) as client:
        report = await assert_mutations_audited(client, DEMO_EXAMPLES, {}, sub="op-walker")
        assert sorted(report.audited) == sorted(DEMO_EXAMPLES)
        trail = (await client.get("/v1/audit", params={"action": "job.retried"})).json()
        assert trail["items"][0]["actor_name"] == "Walker"
        assert trail["items"][0]["target_type"] == "job"


async def test_the_walker_fails_on_a_route_without_its_row_or_its_example(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    make_token: Callable[..., str],
) -> None:
    settings = DemoSettings(**base_settings, database_url=await new_database())
    headers = {"Authorization": f"Bearer {make_token(sub='op-walker')}"}
    async with start_service(build_app(settings), headers=headers) as client:
        exempt_rest = {r: "not under test here" for r in DEMO_EXAMPLES if r != "POST /items"}
        # an example whose call writes no row: the create is rolled back (500), so nothing
        with pytest.raises(AssertionError, match="POST /items: the example got 500"):
            await assert_mutations_audited(
                client,
                {"POST /items": Call("/items", json={"n": 1, "rollback": True})},
                exempt_rest,
                sub="op-walker",
            )
        # a row by someone else does not count
        with pytest.raises(AssertionError, match="wrote no audit row"):
            await assert_mutations_audited(
                client, {"POST /items": Call("/items", json={"n": 1})}, exempt_rest, sub="other"
            )
        with pytest.raises(AssertionError, match="no example call"):
            await assert_mutations_audited(client, {}, exempt_rest, sub="op-walker")
        with pytest.raises(AssertionError, match="without a reason"):
            await assert_mutations_audited(
                client, {}, {**exempt_rest, "POST /items": " "}, sub="op-walker"
            )
        with pytest.raises(AssertionError, match="does not have"):
            await assert_mutations_audited(
                client, {}, {**exempt_rest, "POST /nowhere": "stale"}, sub="op-walker"
            )


async def test_audit_route_filters_pages_and_needs_the_read_scope(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    make_token: Callable[..., str],
) -> None:
    settings = DemoSettings(**base_settings, database_url=await new_database())
    alice = {"Authorization": f"Bearer {make_token(sub='op-alice', name='Alice Payet')}"}
    bob = {"Authorization": f"Bearer {make_token(sub='op-bob', name='Bob Hoarau')}"}
    async with start_service(build_app(settings)) as client:
        start = datetime.now(UTC) - timedelta(seconds=5)
        items = []
        for headers in (alice, bob, alice):
            resp = await client.post(
                "/items", json={"n": 1}, headers={**headers, "X-Request-ID": "req-42"}
            )
            items.append(resp.json()["id"])
        assert (await client.post(f"/items/{items[0]}/cure", headers=bob)).status_code == 204

        page = (await client.get("/v1/audit", headers=alice)).json()
        assert [e["action"] for e in page["items"]] == ["item.cured"] + ["item.created"] * 3
        newest = page["items"][0]
        assert (newest["actor"], newest["actor_name"]) == ("op-bob", "Bob Hoarau")
        assert newest["address"] == "127.0.0.1"
        assert page["items"][1]["request_id"] == "req-42"
        assert page["next_cursor"] is None

        async def ids(**params: Any) -> list[str]:
            resp = await client.get("/v1/audit", params=params, headers=alice)
            assert resp.status_code == 200, resp.text
            return [e["target_id"] for e in resp.json()["items"]]

        assert await ids(actor="op-alice") == [items[2], items[0]]
        assert await ids(target=items[0]) == [items[0], items[0]]
        assert await ids(action="item.cured") == [items[0]]
        assert await ids(action="item.*", actor="op-bob") == [items[0], items[1]]
        assert await ids(target_type="job") == []
        assert len(await ids(since=start.isoformat())) == 4
        assert await ids(until=start.isoformat()) == []
        assert await ids(client_id=str(uuid.uuid4())) == []

        first = (await client.get("/v1/audit", params={"limit": 3}, headers=alice)).json()
        assert len(first["items"]) == 3
        rest = await client.get(
            "/v1/audit", params={"limit": 3, "cursor": first["next_cursor"]}, headers=alice
        )
        assert [e["target_id"] for e in rest.json()["items"]] == [items[0]]
        assert rest.json()["next_cursor"] is None

        bad = await client.get("/v1/audit", params={"cursor": "x"}, headers=alice)
        assert bad.status_code == 422
        assert bad.json()["type"].endswith("/invalid-cursor")
        naive = await client.get(
            "/v1/audit", params={"since": "2026-01-01T00:00:00"}, headers=alice
        )
        assert naive.status_code == 422
        reader = {"Authorization": f"Bearer {make_token(scopes=['contracts:read'])}"}
        assert (await client.get("/v1/audit", headers=reader)).status_code == 403
        assert (await client.get("/v1/audit")).status_code == 401
