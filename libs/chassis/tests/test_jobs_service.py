"""The job queue inside a running service (the demo): routes, metrics, SIGKILL takeover, and
no database transaction held while a handler calls the outside."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from prisme_testing.demo.app import DemoJobDead, DemoSettings, build_app
from prisme_testing.demo.process import demo_process
from prisme_testing.polling import eventually, eventually_equals
from prisme_testing.runner import loopback_socket, start_service
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Sink:
    """A stand-in for an outside API with idempotency keys (as Stripe has): the same key gets
    the same receipt and its effect once. ``status`` makes it refuse; ``hold`` keeps calls
    waiting (a call in flight); ``during_call`` runs while a call is held."""

    url: str = ""
    status: int = 200
    calls: list[str] = field(default_factory=list)
    effects: dict[str, str] = field(default_factory=dict)
    hold: asyncio.Event | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    during_call: Callable[[], Awaitable[None]] | None = None

    async def endpoint(self, request: Request) -> Response:
        key = request.headers["Idempotency-Key"]
        self.calls.append(key)
        self.arrived.set()
        if self.during_call is not None:
            await self.during_call()
        if self.hold is not None:
            await self.hold.wait()
        if self.status != 200:
            return JSONResponse({"error": "refused"}, status_code=self.status)
        receipt = self.effects.setdefault(key, f"rcpt-{len(self.effects) + 1}")
        return JSONResponse({"receipt": receipt})


@contextlib.asynccontextmanager
async def running_sink() -> AsyncIterator[Sink]:
    sink = Sink()
    sock, port = loopback_socket()
    app = Starlette(routes=[Route("/deliver", sink.endpoint, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()  # raises why it could not start
        await asyncio.sleep(0.02)
    sink.url = f"http://127.0.0.1:{port}/deliver"
    try:
        yield sink
    finally:
        if sink.hold is not None:
            sink.hold.set()
        server.should_exit = True
        await task
        sock.close()


async def new_item(client: httpx.AsyncClient) -> str:
    resp = await client.post("/items", json={"n": 1})
    assert resp.status_code == 201
    return str(resp.json()["id"])


async def job_state(dsn: str, job_id: int) -> tuple[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        r = await conn.fetchrow("SELECT state, attempts FROM job_queue WHERE id = $1", job_id)
    finally:
        await conn.close()
    assert r is not None
    return str(r["state"]), int(r["attempts"])


async def published_deaths(dsn: str) -> list[dict[str, Any]]:
    """The demo's ``demo.job_dead`` events the relay has published (outbox rows sent)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE subject = 'demo.job_dead' AND sent_at IS NOT NULL"
        )
    finally:
        await conn.close()
    return [DemoJobDead.model_validate_json(bytes(r["payload"])).model_dump() for r in rows]


async def test_dead_job_is_listed_retried_and_counted_in_metrics(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
    make_token: Callable[..., str],
) -> None:
    dsn = await new_database()
    async with running_sink() as sink:
        settings = DemoSettings(**base_settings, database_url=dsn, sink_url=sink.url)
        async with start_service(build_app(settings), headers=auth_headers) as client:
            sink.status = 400  # the outside refuses: a permanent failure, dead at once
            items = [await new_item(client) for _ in range(3)]
            job_ids = []
            for item in items:
                resp = await client.post(f"/items/{item}/deliveries")
                assert resp.status_code == 202
                job_ids.append(resp.json()["job_id"])
            for job_id in job_ids:
                await eventually_equals(lambda j=job_id: job_state(dsn, j), ("dead", 1))

            # each death is published once, through the outbox, by the transaction making it
            async def deaths_published() -> list[dict[str, Any]] | None:
                found = await published_deaths(dsn)
                return found if len(found) == 3 else None

            deaths = await eventually(deaths_published, 30, "three job deaths published")
            assert sorted(d["job_id"] for d in deaths) == sorted(job_ids)
            assert {(d["service"], d["kind"], d["attempts"], d["version"]) for d in deaths} == {
                ("demo-svc", "demo.deliver", 1, 1)
            }
            assert all("sink refused: 400" in d["error"] for d in deaths)

            dead = (await client.get("/v1/jobs", params={"state": "dead", "limit": 2})).json()
            assert [j["id"] for j in dead["items"]] == sorted(job_ids, reverse=True)[:2]
            assert dead["items"][0]["kind"] == "demo.deliver"
            assert dead["items"][0]["key"] == f"item:{items[-1]}:deliver"
            assert "sink refused: 400" in dead["items"][0]["last_error"]
            rest = await client.get(
                "/v1/jobs", params={"state": "dead", "limit": 2, "cursor": dead["next_cursor"]}
            )
            assert [j["id"] for j in rest.json()["items"]] == [min(job_ids)]
            assert rest.json()["next_cursor"] is None
            assert (await client.get("/v1/jobs", params={"state": "queued"})).json()["items"] == []
            bad = await client.get("/v1/jobs", params={"cursor": "nope"})
            assert bad.status_code == 422
            assert bad.headers["content-type"] == "application/problem+json"
            assert bad.json()["type"].endswith("/invalid-cursor")

            async def dead_gauge() -> float | None:
                text = (await client.get("/metrics")).text
                for line in text.splitlines():
                    if line.startswith('prisme_jobs_dead{kind="demo.deliver"}'):
                        return float(line.split()[-1])
                return None

            await eventually_equals(dead_gauge, 3.0)

            # the operator fixes the cause and retries one: it runs again and succeeds
            sink.status = 200
            reader = {"Authorization": f"Bearer {make_token(scopes=['contracts:read'])}"}
            assert (
                await client.post(f"/v1/jobs/{job_ids[0]}/retry", headers=reader)
            ).status_code == 403
            resp = await client.post(f"/v1/jobs/{job_ids[0]}/retry")
            assert resp.status_code == 200
            assert (resp.json()["state"], resp.json()["attempts"]) == ("queued", 0)
            await eventually_equals(lambda: job_state(dsn, job_ids[0]), ("succeeded", 1))
            again = await client.post(f"/v1/jobs/{job_ids[0]}/retry")
            assert again.status_code == 409
            assert again.json()["type"].endswith("/job_not_dead")
            assert (await client.post("/v1/jobs/999999/retry")).status_code == 404
            # a second delivery request for the same item is the same job (idempotency key)
            same = await client.post(f"/items/{items[0]}/deliveries")
            assert same.json()["job_id"] == job_ids[0]
            await eventually_equals(dead_gauge, 2.0)
            assert len(await published_deaths(dsn)) == 3  # a success publishes no death
        conn = await asyncpg.connect(dsn)
        try:
            receipts = await conn.fetch("SELECT item_id::text, receipt FROM deliveries")
        finally:
            await conn.close()
    assert [(r["item_id"], r["receipt"]) for r in receipts] == [(items[0], "rcpt-1")]
    assert sink.calls.count(f"item:{items[0]}:deliver") == 2


async def test_no_transaction_is_open_while_the_handler_calls_out(
    new_database: Callable[[], Awaitable[str]],
    base_settings: dict[str, Any],
    auth_headers: dict[str, str],
) -> None:
    dsn = await new_database()
    observer = await asyncpg.connect(dsn)
    seen: list[tuple[int, bool]] = []
    looked = asyncio.Event()
    job_id = 0

    async def look() -> None:
        # While the call is in flight: no session of the service waits inside an open
        # transaction (what holding one across the call looks like), and nobody locks the row.
        # The job is handed to the worker at commit, so its call can arrive here before the
        # POST that made it has answered with its id: wait for the id first.
        for _ in range(500):
            if job_id:
                break
            await asyncio.sleep(0.01)
        for _ in range(10):
            in_tx = await observer.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
            )
            try:
                async with observer.transaction():
                    row_free = await observer.fetchval(
                        "SELECT state = 'running' FROM job_queue WHERE id = $1 FOR UPDATE NOWAIT",
                        job_id,
                    )
            except asyncpg.LockNotAvailableError:
                row_free = False
            seen.append((int(in_tx), bool(row_free)))
            await asyncio.sleep(0.05)
        looked.set()

    try:
        async with running_sink() as sink:
            sink.during_call = look
            settings = DemoSettings(**base_settings, database_url=dsn, sink_url=sink.url)
            async with start_service(build_app(settings), headers=auth_headers) as client:
                item = await new_item(client)
                # the bus quiet first (the item's event relayed and consumed)
                effects = "SELECT count(*) FROM effects e JOIN outbox o ON o.sent_at IS NOT NULL"
                await eventually_equals(lambda: observer.fetchval(effects), 1)
                resp = await client.post(f"/items/{item}/deliveries")
                job_id = resp.json()["job_id"]
                await asyncio.wait_for(looked.wait(), 60)  # no probe of ours meanwhile
                await eventually_equals(lambda: job_state(dsn, job_id), ("succeeded", 1))
    finally:
        await observer.close()
    assert seen == [(0, True)] * 10


async def test_a_job_whose_worker_is_killed_mid_call_is_taken_over_and_happens_once(
    new_database: Callable[[], Awaitable[str]],
    nats_url: str,
    platform_keys: tuple[str, str],
    tmp_path: Path,
) -> None:
    dsn = await new_database()
    async with running_sink() as sink:
        sink.hold = asyncio.Event()  # the first call stays in flight
        env = {"PRISME_SINK_URL": sink.url, "PRISME_JOB_LEASE_SECONDS": "2"}
        first = demo_process(dsn, nats_url, platform_keys[1], tmp_path, env, log_name="a.log")
        first.start()
        try:
            await first.wait_ready()
            from prisme_chassis.keys import mint_token

            token = mint_token(platform_keys[0], sub="op-alice", scopes=["admin"])
            async with httpx.AsyncClient(
                base_url=first.url, headers={"Authorization": f"Bearer {token}"}
            ) as client:
                item = await new_item(client)
                job_id = (await client.post(f"/items/{item}/deliveries")).json()["job_id"]
            await asyncio.wait_for(sink.arrived.wait(), 60)
        finally:
            first.kill()  # SIGKILL mid-call: no shutdown code runs, the lease is not given back
        assert await job_state(dsn, job_id) == ("running", 1)
        sink.hold.set()  # the outside did its part for the first call (as Stripe would)

        second = demo_process(dsn, nats_url, platform_keys[1], tmp_path, env, log_name="b.log")
        second.start()
        try:
            await second.wait_ready()
            await eventually_equals(lambda: job_state(dsn, job_id), ("succeeded", 2))
        finally:
            second.kill()
    key = f"item:{item}:deliver"
    assert sink.calls == [key, key]  # called again after the lease ran out, same key
    assert sink.effects == {key: "rcpt-1"}  # ... and the effect happened once
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT receipt FROM deliveries") == "rcpt-1"
    finally:
        await conn.close()
