"""All SQL of the job queue (table ``job_queue``, chassis migration 004).

Times are the database's (``clock_timestamp()``): leases and back-off are mechanics between
processes, so they follow the one clock every worker shares, not a travelled business clock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from .model import Job, JobKind, JobState, JobView, NewJob, truncate_error

#: NOTIFY channel; the payload is the job kind, so a worker wakes only for its own kinds.
CHANNEL = "prisme_jobs"


def _require_transaction(conn: asyncpg.Connection, what: str) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError(f"{what}() must run inside the transaction of the state change")


async def enqueue(
    conn: asyncpg.Connection,
    kind: JobKind,
    key: str,
    payload: dict[str, Any] | None = None,
    *,
    group_key: str | None = None,
    serial_key: str | None = None,
    delay: float = 0.0,
    revive: bool = False,
) -> int:
    """Enqueue one job of ``kind`` in the caller's transaction; returns its id.

    The job exists once the caller commits (and a worker is woken then). The same ``key``
    enqueued again gives the existing job, whatever its state; with ``revive=True`` a job that
    is ``dead`` or ``cancelled`` goes back to ``queued`` with fresh attempts and the new
    payload (reconciliation re-processing what was given up).
    """
    ids = await enqueue_many(
        conn,
        kind,
        [NewJob(key, payload or {}, group_key, serial_key, delay)],
        revive=revive,
    )
    return ids[0]


async def enqueue_many(
    conn: asyncpg.Connection, kind: JobKind, jobs: Sequence[NewJob], *, revive: bool = False
) -> list[int]:
    """Set-based :func:`enqueue` (year-end revocations); ids in the order of ``jobs``."""
    if not jobs:
        return []
    _require_transaction(conn, "enqueue")
    keys = [j.key for j in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError("the same idempotency key twice in one enqueue_many()")
    revive_clause = (
        """DO UPDATE SET state = 'queued', attempts = 0, payload = EXCLUDED.payload,
               next_attempt_at = EXCLUDED.next_attempt_at, lease_owner = NULL,
               lease_expires_at = NULL, finished_at = NULL, updated_at = clock_timestamp()
           WHERE job_queue.state IN ('dead', 'cancelled')"""
        if revive
        else "DO NOTHING"
    )
    # one statement in the common case: the insert returns the new ids and notifies the
    # workers (a NOTIFY repeated in one transaction is sent once, at commit); only keys that
    # already existed are looked up after it
    rows = await conn.fetch(
        f"""
        WITH added AS (
            INSERT INTO job_queue (kind, idempotency_key, payload, max_attempts, group_key,
                                   serial_key, next_attempt_at)
            SELECT $1, k, p::jsonb, $2, g, s, clock_timestamp() + make_interval(secs => d)
            FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::float8[])
                 WITH ORDINALITY AS t(k, p, g, s, d, n)
            ORDER BY n
            ON CONFLICT (kind, idempotency_key) {revive_clause}
            RETURNING id, idempotency_key
        )
        SELECT id, idempotency_key, pg_notify($8, $1) FROM added
        """,  # noqa: S608 - the clause is one of two constants
        kind.name,
        kind.max_attempts,
        keys,
        [json.dumps(dict(j.payload)) for j in jobs],
        [j.group_key for j in jobs],
        [j.serial_key for j in jobs],
        [max(0.0, j.delay) for j in jobs],
        CHANNEL,
    )
    by_key = {r["idempotency_key"]: r["id"] for r in rows}
    missing = [k for k in keys if k not in by_key]
    if missing:
        rows = await conn.fetch(
            "SELECT id, idempotency_key FROM job_queue"
            " WHERE kind = $1 AND idempotency_key = ANY($2)",
            kind.name,
            missing,
        )
        by_key.update((r["idempotency_key"], r["id"]) for r in rows)
    return [by_key[k] for k in keys]


async def enqueue_leased(
    conn: asyncpg.Connection, kind: JobKind, jobs: Sequence[NewJob], lease_tokens: Sequence[str]
) -> list[Job]:
    """Insert ``jobs`` already leased, the i-th to ``lease_tokens[i]``, with their first run
    counted: the claim is part of the insert (one row write fewer, no NOTIFY, no claim round
    trip). For the worker of this process, which runs them once the caller commits; if it
    never does (crash), the lease runs out and any worker takes them over like any stalled
    run. Keys that already exist are left alone and absent from the result."""
    if not jobs:
        return []
    _require_transaction(conn, "enqueue")
    rows = await conn.fetch(
        """
        INSERT INTO job_queue (kind, idempotency_key, payload, max_attempts, group_key,
                               serial_key, next_attempt_at, state, attempts, lease_owner,
                               lease_expires_at)
        SELECT $1, k, p::jsonb, $2, g, NULL, clock_timestamp(), 'running', 1, o,
               clock_timestamp() + make_interval(secs => $7)
        FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
             AS t(k, p, g, o, n)
        ORDER BY n
        ON CONFLICT (kind, idempotency_key) DO NOTHING
        RETURNING *
        """,
        kind.name,
        kind.max_attempts,
        [j.key for j in jobs],
        [json.dumps(dict(j.payload)) for j in jobs],
        [j.group_key for j in jobs],
        list(lease_tokens),
        kind.lease_seconds,
    )
    return sorted((_job(r) for r in rows), key=lambda j: j.id)


async def cancel(
    conn: asyncpg.Connection,
    kind: JobKind,
    *,
    key: str | None = None,
    serial_key: str | None = None,
    serial_keys: Sequence[str] | None = None,
) -> int:
    """Cancel the queued (not yet running) jobs of ``kind`` with this key, this serial key or
    any of ``serial_keys`` (one statement for many: a contract's accounts at year-end)."""
    if key is None and serial_key is None and serial_keys is None:
        raise ValueError("cancel() needs a key or a serial key")
    keys = None if serial_keys is None else list(serial_keys)
    result = await conn.execute(
        """
        UPDATE job_queue SET state = 'cancelled', finished_at = clock_timestamp(),
                             updated_at = clock_timestamp()
        WHERE kind = $1 AND state = 'queued'
          AND ($2::text IS NULL OR idempotency_key = $2)
          AND ($3::text IS NULL OR serial_key = $3)
          AND ($4::text[] IS NULL OR serial_key = ANY($4::text[]))
        """,
        kind.name,
        key,
        serial_key,
        keys,
    )
    return int(result.split()[-1])


async def has_open(conn: asyncpg.Connection, kind: JobKind, serial_key: str) -> bool:
    """True while a job of ``kind`` with this serial key is queued or running."""
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM job_queue WHERE serial_key = $2 AND kind = $1"
        " AND state IN ('queued', 'running'))",
        kind.name,
        serial_key,
    )
    return bool(found)


async def get_state(conn: asyncpg.Connection, kind: JobKind, key: str) -> JobState | None:
    """The state of the job of ``kind`` with this idempotency key, if there is one."""
    state = await conn.fetchval(
        "SELECT state FROM job_queue WHERE kind = $1 AND idempotency_key = $2", kind.name, key
    )
    return None if state is None else JobState(state)


def _json(value: Any) -> dict[str, Any]:
    # The service pool decodes jsonb (prisme_chassis.db); a bare connection gives text.
    decoded = json.loads(value) if isinstance(value, str) else value
    return dict(decoded)


def _job(row: asyncpg.Record) -> Job:
    return Job(
        id=row["id"],
        kind=row["kind"],
        key=row["idempotency_key"],
        payload=_json(row["payload"]),
        attempt=row["attempts"],
        max_attempts=row["max_attempts"],
        group_key=row["group_key"],
        serial_key=row["serial_key"],
        last_error=row["last_error"],
        created_at=row["created_at"],
    )


def _view(row: asyncpg.Record) -> JobView:
    return JobView(
        id=row["id"],
        kind=row["kind"],
        key=row["idempotency_key"],
        state=JobState(row["state"]),
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
    )


# A job is ready when queued and due, and no older job with its serial key is still open. A
# running job whose lease ran out (its worker died) with runs left is put back in the queue
# first (_REQUEUE_EXPIRED). Both read one partial index each, in order: with the two states in
# one OR, PostgreSQL read and sorted every ready job of the kind at each claim (50,000 queued
# revocations at a year-end: 60 ms a claim of 20, P2).
_REQUEUE_EXPIRED = """
    UPDATE job_queue q SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL,
        updated_at = clock_timestamp()
    WHERE q.id IN (
        SELECT id FROM job_queue
        WHERE kind = $1 AND state = 'running' AND lease_expires_at < clock_timestamp()
          AND attempts < max_attempts
        FOR UPDATE SKIP LOCKED)
"""

_READY = """
    j.kind = $1
    AND j.state = 'queued' AND j.next_attempt_at <= clock_timestamp()
    AND (j.serial_key IS NULL OR NOT EXISTS (
         SELECT 1 FROM job_queue o
         WHERE o.serial_key = j.serial_key AND o.id < j.id
           AND o.state IN ('queued', 'running')))
"""

_NOT_BUSY = "($7::text[] IS NULL OR j.group_key IS NULL OR j.group_key <> ALL($7::text[]))"


async def claim(
    conn: asyncpg.Connection,
    kind: JobKind,
    lease_token: str,
    *,
    grouped: bool,
    busy_groups: Sequence[str] = (),
) -> list[Job]:
    """Lease up to ``kind.batch_size`` ready jobs (of one group when ``grouped``), counting
    the run as an attempt, in one statement committed at once, before the handler runs (the
    caller needs no transaction). Jobs of ``kind`` whose lease ran out with runs left (their
    worker died) are first put back in the queue, so they are taken over. The running worker's
    policy sets ``max_attempts`` (it may come from its settings). Jobs of ``busy_groups`` (at
    their ``group_concurrency`` in this worker) are left for later.

    ``FOR UPDATE SKIP LOCKED`` lets workers of several replicas claim side by side.
    """
    busy = list(busy_groups) or None
    await conn.execute(_REQUEUE_EXPIRED, kind.name)
    rows = await conn.fetch(
        f"""
        WITH first AS (
            SELECT j.group_key FROM job_queue j
            WHERE {_READY} AND $2::boolean AND {_NOT_BUSY}
            ORDER BY j.next_attempt_at, j.id
            LIMIT 1
            FOR UPDATE OF j SKIP LOCKED
        ), picked AS (
            SELECT j.id FROM job_queue j
            WHERE {_READY} AND {_NOT_BUSY}
              AND ($2::boolean IS FALSE OR (EXISTS (SELECT 1 FROM first)
                   AND j.group_key IS NOT DISTINCT FROM (SELECT group_key FROM first)))
            ORDER BY j.next_attempt_at, j.id
            LIMIT $3
            FOR UPDATE OF j SKIP LOCKED
        )
        UPDATE job_queue q SET state = 'running', attempts = q.attempts + 1, max_attempts = $6,
            lease_owner = $4, lease_expires_at = clock_timestamp() + make_interval(secs => $5),
            updated_at = clock_timestamp()
        FROM picked WHERE q.id = picked.id
        RETURNING q.*
        """,  # noqa: S608 - the ready conditions are constants
        kind.name,
        grouped,
        kind.batch_size,
        lease_token,
        kind.lease_seconds,
        kind.max_attempts,
        busy,
    )
    return sorted((_job(r) for r in rows), key=lambda j: j.id)


async def reap_abandoned(conn: asyncpg.Connection, kind: JobKind) -> list[Job]:
    """Jobs whose lease ran out on their last attempt (their worker died every time): dead.

    Locked by the caller's transaction; the caller records their death and hooks with it.
    """
    rows = await conn.fetch(
        """
        UPDATE job_queue q SET state = 'dead', finished_at = clock_timestamp(),
            updated_at = clock_timestamp(), lease_owner = NULL, lease_expires_at = NULL,
            last_error = 'the worker running it stopped (lease expired) on its last attempt'
        WHERE q.id IN (
            SELECT id FROM job_queue
            WHERE kind = $1 AND state = 'running' AND lease_expires_at < clock_timestamp()
              AND attempts >= max_attempts
            LIMIT 100 FOR UPDATE SKIP LOCKED)
        RETURNING q.*
        """,
        kind.name,
    )
    return [_job(r) for r in rows]


async def renew_leases(
    conn: asyncpg.Connection, job_ids: Sequence[int], lease_token: str, lease_seconds: float
) -> int:
    """Extend the leases this worker still holds; returns how many it still holds."""
    result = await conn.execute(
        """
        UPDATE job_queue SET lease_expires_at = clock_timestamp() + make_interval(secs => $3)
        WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'running'
        """,
        list(job_ids),
        lease_token,
        lease_seconds,
    )
    return int(result.split()[-1])


async def release(conn: asyncpg.Connection, job_ids: Sequence[int], lease_token: str) -> None:
    """Hand leased jobs back at once (graceful shutdown): queued again, the run not counted."""
    await conn.execute(
        """
        UPDATE job_queue SET state = 'queued', attempts = greatest(attempts - 1, 0),
            lease_owner = NULL, lease_expires_at = NULL, next_attempt_at = clock_timestamp(),
            updated_at = clock_timestamp()
        WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'running'
        """,
        list(job_ids),
        lease_token,
    )


async def hold(conn: asyncpg.Connection, job_id: int, lease_token: str) -> bool:
    """Lock the job for recording its outcome; False when the lease is no longer ours."""
    found = await conn.fetchval(
        "SELECT 1 FROM job_queue WHERE id = $1 AND lease_owner = $2 AND state = 'running'"
        " FOR UPDATE",
        job_id,
        lease_token,
    )
    return found is not None


@dataclass(frozen=True)
class Transition:
    """How a recorded outcome changes a job row."""

    state: JobState
    delay: float = 0.0
    error: str | None = None
    #: "keep" the run counted, "give_back" (throttled: not a failure) or "reset" (progress
    #: made: the next step has every attempt again)
    attempts: Literal["keep", "give_back", "reset"] = "keep"
    payload: dict[str, Any] | None = None


async def record(conn: asyncpg.Connection, job_id: int, t: Transition) -> None:
    """Write an outcome on a job held with :func:`hold`."""
    finished = t.state in (JobState.SUCCEEDED, JobState.DEAD)
    await conn.execute(
        """
        UPDATE job_queue SET state = $2,
            next_attempt_at = CASE WHEN $2 = 'queued'
                THEN clock_timestamp() + make_interval(secs => $3) ELSE next_attempt_at END,
            attempts = CASE $5 WHEN 'give_back' THEN greatest(attempts - 1, 0)
                               WHEN 'reset' THEN 0 ELSE attempts END,
            last_error = COALESCE($4, last_error),
            payload = COALESCE($6::text::jsonb, payload),
            lease_owner = NULL, lease_expires_at = NULL,
            finished_at = CASE WHEN $7 THEN clock_timestamp() END,
            updated_at = clock_timestamp()
        WHERE id = $1
        """,
        job_id,
        t.state.value,
        max(0.0, t.delay),
        None if t.error is None else truncate_error(t.error),
        t.attempts,
        None if t.payload is None else json.dumps(t.payload),
        finished,
    )


async def record_held(
    conn: asyncpg.Connection, transitions: Sequence[tuple[int, Transition]], lease_token: str
) -> frozenset[int]:
    """:func:`hold` and :func:`record` for a batch in one statement: the transitions are
    written on the jobs whose lease is still ``lease_token``'s, whose ids are returned (the
    others, taken over by another worker, are left alone)."""
    if not transitions:
        return frozenset()
    rows = await conn.fetch(
        """
        UPDATE job_queue q SET state = u.state,
            next_attempt_at = CASE WHEN u.state = 'queued'
                THEN clock_timestamp() + make_interval(secs => u.delay) ELSE q.next_attempt_at END,
            attempts = CASE u.attempts WHEN 'give_back' THEN greatest(q.attempts - 1, 0)
                                       WHEN 'reset' THEN 0 ELSE q.attempts END,
            last_error = COALESCE(u.error, q.last_error),
            payload = COALESCE(u.payload::jsonb, q.payload),
            lease_owner = NULL, lease_expires_at = NULL,
            finished_at = CASE WHEN u.state IN ('succeeded', 'dead') THEN clock_timestamp() END,
            updated_at = clock_timestamp()
        FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::text[])
             AS u(id, state, delay, error, attempts, payload)
        WHERE q.id = u.id AND q.lease_owner = $7 AND q.state = 'running'
        RETURNING q.id
        """,
        [i for i, _ in transitions],
        [t.state.value for _, t in transitions],
        [max(0.0, t.delay) for _, t in transitions],
        [None if t.error is None else truncate_error(t.error) for _, t in transitions],
        [t.attempts for _, t in transitions],
        [None if t.payload is None else json.dumps(t.payload) for _, t in transitions],
        lease_token,
    )
    return frozenset(r["id"] for r in rows)


async def seconds_to_next(conn: asyncpg.Connection, kinds: Sequence[str]) -> float | None:
    """Seconds until the next queued job is due or a lease runs out (None: nothing pending).

    One index probe per kind and state (the worker asks after every wake): a ``min`` over
    ``kind = ANY(...)`` read every queued job instead, 50,000 of them at a year-end (P2)."""
    value = await conn.fetchval(
        """
        SELECT extract(epoch FROM min(least(q.t, r.t)) - clock_timestamp())
        FROM unnest($1::text[]) AS k(kind)
        LEFT JOIN LATERAL (
            SELECT next_attempt_at AS t FROM job_queue
            WHERE kind = k.kind AND state = 'queued' ORDER BY next_attempt_at LIMIT 1
        ) q ON true
        LEFT JOIN LATERAL (
            SELECT lease_expires_at AS t FROM job_queue
            WHERE kind = k.kind AND state = 'running' ORDER BY lease_expires_at LIMIT 1
        ) r ON true
        """,
        list(kinds),
    )
    return None if value is None else max(0.0, float(value))


async def retry_dead(conn: asyncpg.Connection, job_id: int) -> JobView | None:
    """A dead job goes back to queued with fresh attempts; None when it is not dead."""
    row = await conn.fetchrow(
        """
        UPDATE job_queue SET state = 'queued', attempts = 0, next_attempt_at = clock_timestamp(),
            finished_at = NULL, updated_at = clock_timestamp()
        WHERE id = $1 AND state = 'dead'
        RETURNING *
        """,
        job_id,
    )
    if row is None:
        return None
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, row["kind"])
    return _view(row)


async def get(conn: asyncpg.Connection, job_id: int) -> JobView | None:
    row = await conn.fetchrow("SELECT * FROM job_queue WHERE id = $1", job_id)
    return None if row is None else _view(row)


async def page(
    conn: asyncpg.Connection,
    *,
    state: JobState | None,
    kind: str | None,
    after_id: int | None,
    limit: int,
) -> list[JobView]:
    """Newest first; ``after_id`` is the last id of the previous page."""
    rows = await conn.fetch(
        """
        SELECT * FROM job_queue
        WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR kind = $2)
          AND ($3::bigint IS NULL OR id < $3)
        ORDER BY id DESC LIMIT $4
        """,
        None if state is None else state.value,
        kind,
        after_id,
        limit,
    )
    return [_view(r) for r in rows]


@dataclass(frozen=True)
class KindStats:
    counts: dict[JobState, int]
    oldest_ready_seconds: float


async def stats(conn: asyncpg.Connection, kinds: Sequence[str]) -> dict[str, KindStats]:
    """Per kind: jobs by state (finished ones too) and the age of the oldest ready job."""
    rows = await conn.fetch(
        "SELECT kind, state, count(*) AS n FROM job_queue WHERE kind = ANY($1::text[])"
        " GROUP BY kind, state",
        list(kinds),
    )
    ages = await conn.fetch(  # the oldest ready job of each kind: one index probe each
        """
        SELECT k.kind, extract(epoch FROM clock_timestamp() - q.t) AS age
        FROM unnest($1::text[]) AS k(kind)
        JOIN LATERAL (
            SELECT next_attempt_at AS t FROM job_queue
            WHERE kind = k.kind AND state = 'queued' AND next_attempt_at <= clock_timestamp()
            ORDER BY next_attempt_at LIMIT 1
        ) q ON true
        """,
        list(kinds),
    )
    out = {k: KindStats(dict.fromkeys(JobState, 0), 0.0) for k in kinds}
    for r in rows:
        out[r["kind"]].counts[JobState(r["state"])] = int(r["n"])
    for r in ages:
        out[r["kind"]] = KindStats(out[r["kind"]].counts, float(r["age"] or 0.0))
    return out


async def counts(
    conn: asyncpg.Connection, kinds: Sequence[JobKind]
) -> dict[str, dict[JobState, int]]:
    """Jobs of ``kinds`` by state (every state present, 0 when none): a service's backlog."""
    found = await stats(conn, [k.name for k in kinds])
    return {name: s.counts for name, s in found.items()}
