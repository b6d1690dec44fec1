"""The bus never stalls (real nats-server -js and PostgreSQL, through the demo service).

An outbox row that cannot be published is set aside while the others flow; every consumer
error, of whatever kind, ends after its attempts in a dead letter with the error; a message
whose subject and ce-type differ is refused.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import nats
from prisme_chassis import metrics
from prisme_events import cloudevent_headers, encode
from prisme_testing.demo.app import DemoItemCreated, DemoSettings, build_app
from prisme_testing.polling import eventually
from prisme_testing.runner import start_service


async def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def effects(dsn: str) -> set[str]:
    return {str(r["item_id"]) for r in await fetch(dsn, "SELECT item_id FROM effects")}


async def test_unpublishable_rows_are_set_aside_while_the_others_flow(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
) -> None:
    dsn = await new_database()
    settings = DemoSettings(**base_settings, database_url=dsn)
    async with start_service(build_app(settings), headers=auth_headers) as client:
        # Two rows ahead of the good ones: a subject no stream takes, and a body over the
        # server's 1 MiB limit (which would get the connection closed if it were sent).
        stray = DemoItemCreated(item_id=uuid.uuid4(), n=0)
        huge = DemoItemCreated(item_id=uuid.uuid4(), n=1)
        conn = await asyncpg.connect(dsn)
        try:
            for event, subject, payload in (
                (stray, "nowhere.item_created", encode(stray)),
                (huge, "demo.item_created", b"x" * (2 * 1024 * 1024)),
            ):
                await conn.execute(
                    "INSERT INTO outbox (event_id, subject, headers, payload)"
                    " VALUES ($1, $2, $3::jsonb, $4)",
                    event.event_id,
                    subject,
                    json.dumps(cloudevent_headers(event)),
                    payload,
                )
        finally:
            await conn.close()
        ids = {(await client.post("/items", json={"n": i})).json()["id"] for i in range(5)}

        async def all_applied() -> bool:
            return await effects(dsn) >= ids

        await eventually(all_applied, what="the five good events consumed")

        async def both_set_aside() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = (await client.get("/v1/outbox")).json()["items"]
            return items if len(items) == 2 else []

        listed = await eventually(both_set_aside, what="two failing rows listed")
        by_id = {row["event_id"]: row for row in listed}
        assert "no stream takes this subject" in by_id[str(stray.event_id)]["last_error"]
        assert "exceeds the server limit" in by_id[str(huge.event_id)]["last_error"]
        rows = await fetch(
            dsn,
            "SELECT event_id, attempts, next_attempt_at > clock_timestamp() AS later, sent_at"
            " FROM outbox WHERE event_id = ANY($1::uuid[])",
            [stray.event_id, huge.event_id],
        )
        for row in rows:
            assert row["attempts"] >= 1
            assert row["sent_at"] is None
        # the good rows were all sent; the failing ones only wait for their next attempt
        assert await fetch(dsn, "SELECT 1 FROM outbox WHERE sent_at IS NULL AND attempts = 0") == []
        await eventually(
            lambda: metrics.REGISTRY.get_sample_value("prisme_outbox_failing") == 2,
            what="prisme_outbox_failing = 2",
        )
        everything = (await client.get("/v1/outbox", params={"state": "unsent", "limit": 1})).json()
        assert len(everything["items"]) == 1
        assert everything["next_cursor"]
        rest = (
            await client.get(
                "/v1/outbox", params={"state": "unsent", "cursor": everything["next_cursor"]}
            )
        ).json()
        assert len(rest["items"]) == 1
        assert rest["items"][0]["seq"] > everything["items"][0]["seq"]
        assert rest["next_cursor"] is None
        refused = await client.get("/v1/outbox", params={"cursor": "x'"})
        assert refused.status_code == 422
        assert refused.json()["type"].endswith("/invalid-cursor")


async def test_infrastructure_errors_are_bounded_and_end_in_a_dead_letter(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
) -> None:
    dsn = await new_database()
    settings = DemoSettings(**base_settings, database_url=dsn)
    async with start_service(build_app(settings), headers=auth_headers) as client:
        failing = (await client.post("/items", json={"n": 1, "infra": True})).json()["id"]
        fine = (await client.post("/items", json={"n": 2})).json()["id"]

        async def dead() -> list[dict[str, Any]]:
            letters: list[dict[str, Any]] = (await client.get("/v1/dead-letters")).json()["items"]
            return letters

        [letter] = await eventually(dead, what="the infrastructure failure dead-lettered")
        assert letter["delivered"] == 3  # max_deliver of the demo subscription
        assert "ConnectionRefusedError" in letter["error"]
        assert "unreachable dependency" in letter["error"]
        assert await effects(dsn) == {fine}
        assert (await client.post(f"/items/{failing}/cure")).status_code == 204
        assert (await client.post(f"/v1/dead-letters/{letter['seq']}/replay")).status_code == 204
        assert await effects(dsn) == {fine, failing}


async def test_a_message_whose_subject_and_ce_type_differ_is_refused(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
    nats_url: str,
) -> None:
    dsn = await new_database()
    settings = DemoSettings(**base_settings, database_url=dsn)
    async with start_service(build_app(settings), headers=auth_headers) as client:
        item = (await client.post("/items", json={"n": 1})).json()["id"]
        await eventually(lambda: effects(dsn), what="the item's own event applied")
        # A valid body under a subject it was not published as: the header claims another type.
        forged = DemoItemCreated(item_id=uuid.UUID(item), n=1)
        nc = await nats.connect(nats_url)
        try:
            headers = cloudevent_headers(forged) | {"ce-type": "demo.item_renamed"}
            await nc.jetstream().publish(forged.subject, encode(forged), headers=headers)
        finally:
            await nc.close()

        async def dead() -> list[dict[str, Any]]:
            letters: list[dict[str, Any]] = (await client.get("/v1/dead-letters")).json()["items"]
            return letters

        [letter] = await eventually(dead, what="the forged message dead-lettered")
        assert letter["event_id"] == str(forged.event_id)
        assert "subject demo.item_created and ce-type demo.item_renamed differ" in letter["error"]
        assert letter["delivered"] == 1  # refused at once, not retried
        rows = await fetch(dsn, "SELECT event_id FROM effects")
        assert forged.event_id not in {r["event_id"] for r in rows}
