"""The durable job queue against a real PostgreSQL: isolation, back-off, dead, leases."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast

import asyncpg
import pytest
from prisme_chassis import after_commit, jobs
from prisme_chassis.db import CHASSIS_MIGRATIONS, create_pool, migrate
from prisme_chassis.jobs import repository as repo
from prisme_testing.polling import eventually_equals

FLAKY = jobs.JobKind("test.flaky", max_attempts=3, backoff_base=100.0, backoff_cap=1000.0)


@pytest.fixture
async def db(new_database: Callable[[], Awaitable[str]]) -> AsyncIterator[tuple[str, asyncpg.Pool]]:
    dsn = await new_database()
    pool = await create_pool(dsn, max_size=4)
    async with pool.acquire() as conn:
        await migrate(cast(asyncpg.Connection, conn), "chassis", CHASSIS_MIGRATIONS)
    yield dsn, pool
    await pool.close()


@contextlib.asynccontextmanager
async def working(worker: jobs.JobWorker) -> AsyncIterator[jobs.JobWorker]:
    task = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def add(pool: asyncpg.Pool, kind: jobs.JobKind, key: str, **payload: Any) -> int:
    async with pool.acquire() as conn, conn.transaction():
        return await jobs.enqueue(cast(asyncpg.Connection, conn), kind, key, payload)


async def row(pool: asyncpg.Pool, job_id: int) -> asyncpg.Record:
    async with pool.acquire() as conn:
        found = await conn.fetchrow(
            "SELECT *, extract(epoch FROM next_attempt_at - updated_at) AS wait"
            " FROM job_queue WHERE id = $1",
            job_id,
        )
    assert found is not None
    return found


async def make_due(pool: asyncpg.Pool, job_id: int) -> None:
    """Fast-forward a job's back-off (the test does not wait the real delay)."""
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE job_queue SET next_attempt_at = clock_timestamp() WHERE id = $1", job_id
        )


# -- pure parts -------------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        full = min(60.0, 2.0 * 2 ** (attempt - 1))
        for _ in range(50):
            delay = jobs.backoff_seconds(attempt, 2.0, 60.0, rng)
            assert full / 2 <= delay <= full
    assert jobs.backoff_seconds(10_000, 2.0, 60.0, rng) <= 60.0  # no overflow far out
    spread = {round(jobs.backoff_seconds(5, 2.0, 600.0, rng), 3) for _ in range(20)}
    assert len(spread) > 10  # jitter: jobs failing together do not come back together


def test_payloads_refuse_secrets_and_kinds_are_named() -> None:
    with pytest.raises(ValueError, match="secrets"):
        jobs.NewJob("k", {"user": {"initial_password": "x"}})
    with pytest.raises(ValueError, match="secrets"):
        jobs.NewJob("k", {"items": [{"client_secret": "pi_x"}]})
    jobs.NewJob("k", {"invoice_id": "1"})
    with pytest.raises(ValueError, match="dotted"):
        jobs.JobKind("Not A Name")
    with pytest.raises(ValueError, match="batch handler"):
        jobs.JobKind("test.batchy", batch_size=5).handle(lambda job: asyncio.sleep(0))


# -- against PostgreSQL ---------------------------------------------------------------------------


async def test_enqueue_needs_the_callers_transaction_and_dedups_by_key(
    db: tuple[str, asyncpg.Pool],
) -> None:
    _, pool = db
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            await jobs.enqueue(cast(asyncpg.Connection, conn), FLAKY, "a")
    first = await add(pool, FLAKY, "invoice:1:finalize", n=1)
    again = await add(pool, FLAKY, "invoice:1:finalize", n=2)
    assert first == again
    # rolled back with its transaction: no job
    with contextlib.suppress(ZeroDivisionError):
        async with pool.acquire() as conn, conn.transaction():
            await jobs.enqueue(cast(asyncpg.Connection, conn), FLAKY, "invoice:2:finalize")
            _ = 1 / 0
    async with pool.acquire() as conn:
        keys = await conn.fetch("SELECT idempotency_key, payload FROM job_queue")
    assert [(r["idempotency_key"], r["payload"]) for r in keys] == [
        ("invoice:1:finalize", {"n": 1})
    ]


@pytest.mark.parametrize(
    "error", [AssertionError("invariant"), ValueError("bad value"), OSError("network down")]
)
async def test_a_raising_job_is_recorded_and_the_next_job_runs(
    db: tuple[str, asyncpg.Pool], error: Exception
) -> None:
    dsn, pool = db
    ran: list[str] = []

    async def handler(job: jobs.Job) -> jobs.Outcome | None:
        ran.append(job.key)
        if job.payload["poison"]:
            raise error
        return None

    # one at a time, the poisonous job first: the worker must go on past it
    kind = FLAKY.with_policy(concurrency=1)
    bad = await add(pool, kind, "bad", poison=True)
    good = await add(pool, kind, "good", poison=False)
    async with working(jobs.JobWorker(pool, dsn, [kind.handle(handler)], name="t")):
        await eventually_equals(lambda: _state(pool, good), "succeeded")
    bad_row = await row(pool, bad)
    assert ran == ["bad", "good"]
    assert bad_row["state"] == "queued"
    assert bad_row["attempts"] == 1
    assert type(error).__name__ in bad_row["last_error"]
    assert str(error) in bad_row["last_error"]
    assert 50.0 <= bad_row["wait"] <= 100.0  # back-off of the first failure, with jitter
    assert bad_row["lease_owner"] is None


async def _state(pool: asyncpg.Pool, job_id: int) -> str:
    return str((await row(pool, job_id))["state"])


async def test_backoff_then_dead_after_max_attempts_with_the_hook(
    db: tuple[str, asyncpg.Pool],
) -> None:
    dsn, pool = db
    deaths: list[tuple[int, str]] = []

    async def handler(job: jobs.Job) -> jobs.Outcome:
        return jobs.Retry(f"stripe 503 on run {job.attempt}")

    async def on_dead(conn: asyncpg.Connection, job: jobs.Job, error: str) -> None:
        assert conn.is_in_transaction()
        deaths.append((job.id, error))

    job_id = await add(pool, FLAKY, "always-failing")
    waits: list[float] = []
    worker = jobs.JobWorker(pool, dsn, [FLAKY.handle(handler, on_dead=on_dead)], name="t")
    async with working(worker):
        for attempt in (1, 2):
            await eventually_equals(lambda: _attempts_queued(pool, job_id), attempt)
            waits.append(float((await row(pool, job_id))["wait"]))
            await make_due(pool, job_id)
            worker.wake()
        await eventually_equals(lambda: _state(pool, job_id), "dead")
    final = await row(pool, job_id)
    assert 50.0 <= waits[0] <= 100.0
    assert 100.0 <= waits[1] <= 200.0  # doubled
    assert final["attempts"] == 3
    assert "stripe 503 on run 3" in final["last_error"]
    assert final["finished_at"] is not None
    assert deaths == [(job_id, final["last_error"])]


async def _attempts_queued(pool: asyncpg.Pool, job_id: int) -> int:
    r = await row(pool, job_id)
    return int(r["attempts"]) if r["state"] == "queued" else -1


async def test_permanent_failures_throttling_and_progress(db: tuple[str, asyncpg.Pool]) -> None:
    dsn, pool = db
    kind = jobs.JobKind("test.steps", max_attempts=2)
    calls: dict[str, int] = {}

    async def handler(job: jobs.Job) -> jobs.Outcome | None:
        calls[job.key] = calls.get(job.key, 0) + 1
        if job.key == "refused":
            raise jobs.PermanentFailure("400 usageLocation missing")
        if job.key == "throttled":
            raise jobs.RetryLater("429", after=30.0, counts=False)
        step = job.payload.get("step", 0)
        if step < 3:
            return jobs.Proceed(payload={"step": step + 1})
        return None

    refused = await add(pool, kind, "refused")
    throttled = await add(pool, kind, "throttled")
    stepping = await add(pool, kind, "stepping")
    async with working(jobs.JobWorker(pool, dsn, [kind.handle(handler)], name="t")):
        await eventually_equals(lambda: _state(pool, stepping), "succeeded")
        await eventually_equals(lambda: _state(pool, refused), "dead")
        await eventually_equals(lambda: _attempts_queued(pool, throttled), 0)
    assert calls == {"refused": 1, "throttled": 1, "stepping": 4}
    assert (await row(pool, refused))["attempts"] == 1  # dead at once, attempts left unused
    t = await row(pool, throttled)
    assert 29.0 <= t["wait"] <= 30.5  # exactly what the other side asked, not the back-off
    assert (await row(pool, stepping))["payload"] == {"step": 3}


async def test_a_failing_apply_is_a_failed_run_of_that_job_only(
    db: tuple[str, asyncpg.Pool],
) -> None:
    dsn, pool = db
    kind = jobs.JobKind("test.batch", batch_size=10, max_attempts=3)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE effects (key text PRIMARY KEY)")

    async def handle_many(batch: Sequence[jobs.Job]) -> dict[int, jobs.Outcome]:
        def save(key: str) -> jobs.Apply:
            async def apply(conn: asyncpg.Connection) -> None:
                await conn.execute("INSERT INTO effects VALUES ($1)", key)
                if key == "b":
                    raise ValueError("constraint of b")

            return apply

        return {j.id: jobs.Done(apply=save(j.key)) for j in batch}

    ids = {}
    async with pool.acquire() as conn, conn.transaction():
        for key in ("a", "b", "c"):
            ids[key] = await jobs.enqueue(
                cast(asyncpg.Connection, conn), kind, key, group_key="tenant-1"
            )
    async with working(jobs.JobWorker(pool, dsn, [kind.handle_batch(handle_many)], name="t")):
        await eventually_equals(lambda: _state(pool, ids["c"]), "succeeded")
        await eventually_equals(lambda: _attempts_queued(pool, ids["b"]), 1)
    assert await _state(pool, ids["a"]) == "succeeded"
    assert "constraint of b" in (await row(pool, ids["b"]))["last_error"]
    async with pool.acquire() as conn:
        effects = {r["key"] for r in await conn.fetch("SELECT key FROM effects")}
    assert effects == {"a", "c"}  # b's effect was rolled back with its savepoint


async def test_serial_jobs_run_in_order_and_groups_batch_together(
    db: tuple[str, asyncpg.Pool],
) -> None:
    dsn, pool = db
    kind = jobs.JobKind("test.graph", batch_size=20)
    batches: list[list[str]] = []

    async def handle_many(batch: Sequence[jobs.Job]) -> dict[int, jobs.Outcome]:
        batches.append([j.key for j in batch])
        return {j.id: jobs.Done() for j in batch}

    async with pool.acquire() as conn, conn.transaction():
        c = cast(asyncpg.Connection, conn)
        await jobs.enqueue_many(
            c,
            kind,
            [
                jobs.NewJob("t1:provision:u1", group_key="t1", serial_key="u1"),
                jobs.NewJob("t2:provision:u2", group_key="t2", serial_key="u2"),
                jobs.NewJob("t1:revoke:u1", group_key="t1", serial_key="u1"),
                jobs.NewJob("t1:provision:u3", group_key="t1", serial_key="u3"),
            ],
        )
    async with working(jobs.JobWorker(pool, dsn, [kind.handle_batch(handle_many)], name="t")):
        await eventually_equals(lambda: _count(pool, "succeeded"), 4)
    # one tenant per $batch; u1's revocation waits for its provisioning to finish
    assert batches[0] == ["t1:provision:u1", "t1:provision:u3"]
    assert sorted(map(sorted, batches)) == sorted(
        [["t1:provision:u1", "t1:provision:u3"], ["t2:provision:u2"], ["t1:revoke:u1"]]
    )
    assert batches.index(["t1:revoke:u1"]) > 0


async def test_a_group_at_its_concurrency_never_holds_the_other_slots(
    db: tuple[str, asyncpg.Pool],
) -> None:
    """``group_concurrency``: a hanging group (an endpoint that does not answer) holds at most
    that many of the worker's slots; the other groups' jobs are claimed past its backlog."""
    dsn, pool = db
    kind = jobs.JobKind("test.endpoints", batch_size=2, concurrency=4, group_concurrency=1)
    hang = asyncio.Event()
    calls: list[tuple[str, int]] = []

    async def handle_many(batch: Sequence[jobs.Job]) -> dict[int, jobs.Outcome]:
        group = batch[0].group_key or ""
        calls.append((group, len(batch)))
        if group == "slow":
            await hang.wait()
        return {j.id: jobs.Done() for j in batch}

    async with pool.acquire() as conn, conn.transaction():
        c = cast(asyncpg.Connection, conn)
        # the slow group's backlog is older than everything else
        await jobs.enqueue_many(
            c, kind, [jobs.NewJob(f"slow:{i}", group_key="slow") for i in range(8)]
        )
        await jobs.enqueue_many(
            c, kind, [jobs.NewJob(f"fast:{i}", group_key="fast") for i in range(5)]
        )
    async with working(jobs.JobWorker(pool, dsn, [kind.handle_batch(handle_many)], name="t")):
        await eventually_equals(lambda: _count(pool, "succeeded"), 5)  # every fast job
        assert [c for c in calls if c[0] == "slow"] == [("slow", 2)]  # one batch, held
        hang.set()
        await eventually_equals(lambda: _count(pool, "succeeded"), 13)


async def _count(pool: asyncpg.Pool, state: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM job_queue WHERE state = $1", state))


async def test_an_expired_lease_is_taken_over_and_a_late_outcome_dropped(
    db: tuple[str, asyncpg.Pool],
) -> None:
    dsn, pool = db
    kind = jobs.JobKind("test.lease", lease_seconds=0.5, max_attempts=5)
    job_id = await add(pool, kind, "slow")
    # a worker that claimed the job and then stalled (its lease is not renewed)
    async with pool.acquire() as conn, conn.transaction():
        claimed = await repo.claim(cast(asyncpg.Connection, conn), kind, "stalled/1", grouped=False)
    assert [j.id for j in claimed] == [job_id]

    async def handler(job: jobs.Job) -> None:
        assert job.attempt == 2

    async with working(jobs.JobWorker(pool, dsn, [kind.handle(handler)], name="t")):
        await eventually_equals(lambda: _state(pool, job_id), "succeeded")
    # the stalled worker wakes up and tries to record: the job is no longer its own
    async with pool.acquire() as conn, conn.transaction():
        assert not await repo.hold(cast(asyncpg.Connection, conn), job_id, "stalled/1")
    assert (await row(pool, job_id))["attempts"] == 2


async def test_a_job_whose_worker_always_dies_ends_dead(db: tuple[str, asyncpg.Pool]) -> None:
    dsn, pool = db
    kind = jobs.JobKind("test.crashy", lease_seconds=0.2, max_attempts=2)
    job_id = await add(pool, kind, "oom")
    for n in (1, 2):
        await eventually_equals(lambda: _ready(pool, kind), True)
        async with pool.acquire() as conn, conn.transaction():
            assert await repo.claim(
                cast(asyncpg.Connection, conn), kind, f"dies/{n}", grouped=False
            )
    deaths: list[str] = []

    async def on_dead(conn: asyncpg.Connection, job: jobs.Job, error: str) -> None:
        deaths.append(error)

    async def never(job: jobs.Job) -> None:
        raise AssertionError("a dead job must not run")

    async with working(jobs.JobWorker(pool, dsn, [kind.handle(never, on_dead=on_dead)], name="t")):
        await eventually_equals(lambda: _state(pool, job_id), "dead")
    assert deaths == ["worker lost on every attempt"]
    assert "lease expired" in (await row(pool, job_id))["last_error"]


async def _ready(pool: asyncpg.Pool, kind: jobs.JobKind) -> bool:
    async with pool.acquire() as conn:
        return bool(await repo.seconds_to_next(cast(asyncpg.Connection, conn), [kind.name]) == 0)


async def test_revive_requeues_a_dead_job_and_cancel_withdraws_queued_ones(
    db: tuple[str, asyncpg.Pool],
) -> None:
    _, pool = db
    job_id = await add(pool, FLAKY, "evt_1")
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE job_queue SET state = 'dead', attempts = 3 WHERE id = $1", job_id
        )
    async with pool.acquire() as conn, conn.transaction():
        c = cast(asyncpg.Connection, conn)
        assert await jobs.enqueue(c, FLAKY, "evt_1", {"again": True}) == job_id
        assert await jobs.get_state(c, FLAKY, "evt_1") is jobs.JobState.DEAD  # no revive asked
        await jobs.enqueue(c, FLAKY, "evt_1", {"again": True}, revive=True)
    r = await row(pool, job_id)
    assert (r["state"], r["attempts"], r["payload"]) == ("queued", 0, {"again": True})
    async with pool.acquire() as conn, conn.transaction():
        c = cast(asyncpg.Connection, conn)
        await jobs.enqueue(c, FLAKY, "acct:9:provision", serial_key="acct:9")
        assert await jobs.cancel(c, FLAKY, serial_key="acct:9") == 1
        assert await jobs.get_state(c, FLAKY, "acct:9:provision") is jobs.JobState.CANCELLED


async def test_a_batch_outcome_is_recorded_set_based_and_a_failing_apply_fails_the_batch(
    db: tuple[str, asyncpg.Pool],
) -> None:
    """A BatchOutcome: one apply for the jobs still held, every transition written at once
    (Done, Retry keeping its new payload and counting, a throttled Retry giving its run back,
    Fail → dead with the hook); an apply that raises records every job as a failed run."""
    dsn, pool = db
    kind = jobs.JobKind("test.set", batch_size=10, max_attempts=3, backoff_base=100.0)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE effects (id bigint PRIMARY KEY)")
    dead: list[tuple[str, str]] = []
    broken = {"on": False}

    async def handle_many(batch: Sequence[jobs.Job]) -> jobs.BatchOutcome:
        answers: dict[str, jobs.Outcome] = {
            "done": jobs.Done(),
            "retry": jobs.Retry("503", payload={"step": "second"}),
            "throttled": jobs.Retry("429", after=100.0, counts=False, payload={"step": "x"}),
            "fail": jobs.Fail("refused"),
        }

        async def apply(conn: asyncpg.Connection, held: frozenset[int]) -> None:
            await conn.executemany("INSERT INTO effects VALUES ($1)", [(i,) for i in held])
            if broken["on"]:
                raise ValueError("constraint")

        return jobs.BatchOutcome({j.id: answers[j.key] for j in batch}, apply=apply)

    async def on_dead(conn: asyncpg.Connection, job: jobs.Job, error: str) -> None:
        dead.append((job.key, error))

    ids: dict[str, int] = {}
    async with pool.acquire() as conn, conn.transaction():
        for key in ("done", "retry", "throttled", "fail"):
            ids[key] = await jobs.enqueue(
                cast(asyncpg.Connection, conn), kind, key, {"step": "first"}, group_key="g"
            )
    binding = kind.handle_batch(handle_many, on_dead=on_dead)
    async with working(jobs.JobWorker(pool, dsn, [binding], name="t")):
        await eventually_equals(lambda: _state(pool, ids["done"]), "succeeded")
    assert await _state(pool, ids["fail"]) == "dead"
    assert dead == [("fail", "refused")]
    retried, throttled = await row(pool, ids["retry"]), await row(pool, ids["throttled"])
    assert (retried["state"], retried["attempts"], retried["payload"]) == (
        "queued",
        1,
        {"step": "second"},
    )
    assert (throttled["state"], throttled["attempts"], throttled["payload"]) == (
        "queued",
        0,
        {"step": "x"},
    )
    assert 99 < throttled["wait"] <= 100.5
    async with pool.acquire() as conn:
        effects = {r["id"] for r in await conn.fetch("SELECT id FROM effects")}
    assert effects == set(ids.values())

    broken["on"] = True
    await make_due(pool, ids["retry"])
    async with working(jobs.JobWorker(pool, dsn, [binding], name="t")):
        await eventually_equals(lambda: _attempts_queued(pool, ids["retry"]), 2)
    r = await row(pool, ids["retry"])
    assert "recording the outcome failed" in r["last_error"]
    assert r["payload"] == {"step": "second"}  # the failed record changed nothing else
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM effects") == 4  # rolled back


async def test_cancel_many_serial_keys_and_has_open(db: tuple[str, asyncpg.Pool]) -> None:
    _, pool = db
    async with pool.acquire() as conn, conn.transaction():
        c = cast(asyncpg.Connection, conn)
        await jobs.enqueue_many(
            c,
            FLAKY,
            [jobs.NewJob(f"acct:{n}:provision", serial_key=f"acct:{n}") for n in range(4)],
        )
        assert await jobs.has_open(c, FLAKY, "acct:1")
        assert await jobs.cancel(c, FLAKY, serial_keys=["acct:1", "acct:2", "acct:9"]) == 2
        assert not await jobs.has_open(c, FLAKY, "acct:1")
        assert await jobs.has_open(c, FLAKY, "acct:3")
        assert await jobs.get_state(c, FLAKY, "acct:0:provision") is jobs.JobState.QUEUED


# -- jobs handed to the local worker at commit (P8) -------------------------------------------


async def _hand_over(
    pool: asyncpg.Pool, worker: jobs.JobWorker, kind: jobs.JobKind, keys: Sequence[str]
) -> list[after_commit.Hook]:
    """What the bus consumer does: enqueue in a transaction inside an after-commit scope; the
    hooks are returned for the caller to run (or drop, as a process killed before them)."""
    with after_commit.scope() as hooks:
        async with pool.acquire() as conn, conn.transaction():
            await worker.enqueue_here(
                cast(asyncpg.Connection, conn),
                kind,
                [jobs.NewJob(k, {"k": k}, group_key="endpoint") for k in keys],
            )
    return hooks


async def test_jobs_handed_over_at_commit_run_once_on_this_worker_and_never_on_another(
    db: tuple[str, asyncpg.Pool],
) -> None:
    """The jobs are inserted leased to the local worker and run by it once committed, without
    a claim; a second worker running the same kind never gets them, even when the handler
    outlasts the lease (renewed meanwhile); a rolled-back transaction leaves no job and no
    run; outside a scope the jobs are queued and claimed as usual."""
    dsn, pool = db
    kind = jobs.JobKind("test.handoff", batch_size=10, lease_seconds=0.3)
    calls: dict[str, list[tuple[str, int]]] = {"a": [], "b": []}

    def handler(who: str) -> jobs.BatchHandler:
        async def handle_many(batch: Sequence[jobs.Job]) -> dict[int, jobs.Outcome]:
            calls[who] += [(j.key, j.attempt) for j in batch]
            await asyncio.sleep(1.0)  # longer than the lease
            return {j.id: jobs.Done() for j in batch}

        return handle_many

    a = jobs.JobWorker(pool, dsn, [kind.handle_batch(handler("a"))], name="a")
    b = jobs.JobWorker(pool, dsn, [kind.handle_batch(handler("b"))], name="b")
    async with working(a), working(b):
        await asyncio.sleep(0.2)  # both loops running
        keys = [f"d{i}" for i in range(5)]
        hooks = await _hand_over(pool, a, kind, keys)
        assert len(hooks) == 1  # one batch
        async with pool.acquire() as conn:
            leased = await conn.fetch(
                "SELECT state, attempts, lease_owner FROM job_queue WHERE kind = $1", kind.name
            )
        assert {(r["state"], r["attempts"], r["lease_owner"][:2]) for r in leased} == {
            ("running", 1, "a/")
        }
        for hook in hooks:
            hook()
        await eventually_equals(lambda: _count(pool, "succeeded"), 5, timeout=10)
        assert calls == {"a": [(k, 1) for k in keys], "b": []}

        # rolled back: nothing inserted; the consumer never runs the hooks of a failed commit
        async def failing() -> None:
            with after_commit.scope():
                async with pool.acquire() as conn, conn.transaction():
                    c = cast(asyncpg.Connection, conn)
                    await a.enqueue_here(c, kind, [jobs.NewJob("gone")])
                    raise RuntimeError("the business transaction fails")

        with pytest.raises(RuntimeError):
            await failing()
        async with pool.acquire() as conn:
            assert await jobs.get_state(cast(asyncpg.Connection, conn), kind, "gone") is None

        # no scope (an API call): queued, claimed by whichever worker, run once
        async with pool.acquire() as conn, conn.transaction():
            await a.enqueue_here(cast(asyncpg.Connection, conn), kind, [jobs.NewJob("plain")])
        await eventually_equals(lambda: _count(pool, "succeeded"), 6, timeout=10)
    ran = [k for who in calls.values() for k, _ in who]
    assert sorted(ran) == sorted([*keys, "plain"])


async def test_a_handed_over_job_whose_worker_died_before_running_it_is_taken_over_once(
    db: tuple[str, asyncpg.Pool],
) -> None:
    """kill -9 between the commit and the hand-over: the committed job keeps its lease, which
    runs out; another worker then runs it once (its second attempt), nothing is lost."""
    dsn, pool = db
    kind = jobs.JobKind("test.handoff_lost", batch_size=10, lease_seconds=0.3)
    ran: list[tuple[str, int]] = []

    async def handle_many(batch: Sequence[jobs.Job]) -> dict[int, jobs.Outcome]:
        ran.extend((j.key, j.attempt) for j in batch)
        return {j.id: jobs.Done() for j in batch}

    dying = jobs.JobWorker(pool, dsn, [kind.handle_batch(handle_many)], name="dying")
    async with working(dying):
        await asyncio.sleep(0.1)
        hooks = await _hand_over(pool, dying, kind, ["x1", "x2"])
    assert hooks  # never run: the process died right after the commit
    other = jobs.JobWorker(pool, dsn, [kind.handle_batch(handle_many)], name="other")
    async with working(other):
        await eventually_equals(lambda: _count(pool, "succeeded"), 2, timeout=10)
    assert sorted(ran) == [("x1", 2), ("x2", 2)]


async def test_the_worker_wakes_for_the_soonest_job_or_lease_of_any_of_its_kinds(
    db: tuple[str, asyncpg.Pool],
) -> None:
    """``seconds_to_next`` (the worker's sleep) and the oldest-ready gauge, per kind by index:
    the soonest queued job or running lease of every kind counts, finished jobs do not."""
    _, pool = db
    other = jobs.JobKind("test.other")
    conn = cast(asyncpg.Connection, await pool.acquire())
    try:
        kinds = [FLAKY.name, other.name]
        assert await repo.seconds_to_next(conn, kinds) is None  # nothing pending: sleep a sweep
        queued = await add(pool, FLAKY, "later")
        leased = await add(pool, other, "leased")
        done = await add(pool, other, "done")
        await conn.execute(
            "UPDATE job_queue SET next_attempt_at = clock_timestamp() + interval '300 s'"
            " WHERE id = $1",
            queued,
        )
        await conn.execute(
            "UPDATE job_queue SET state = 'running', lease_owner = 'w',"
            " lease_expires_at = clock_timestamp() + interval '40 s' WHERE id = $1",
            leased,
        )
        await conn.execute(
            "UPDATE job_queue SET state = 'succeeded', next_attempt_at = clock_timestamp()"
            " - interval '1 h' WHERE id = $1",
            done,
        )
        assert 35 < (await repo.seconds_to_next(conn, kinds) or 0) <= 40  # the lease
        assert 295 < (await repo.seconds_to_next(conn, [FLAKY.name]) or 0) <= 300
        stats = await repo.stats(conn, kinds)
        assert stats[FLAKY.name].oldest_ready_seconds == 0.0  # queued but not yet due
        await conn.execute(
            "UPDATE job_queue SET next_attempt_at = clock_timestamp() - interval '90 s'"
            " WHERE id = $1",
            queued,
        )
        assert await repo.seconds_to_next(conn, kinds) == 0.0  # overdue: at once
        stats = await repo.stats(conn, kinds)
        assert 90 <= stats[FLAKY.name].oldest_ready_seconds < 100
        assert stats[other.name].oldest_ready_seconds == 0.0
    finally:
        await pool.release(conn)
