"""The job worker: claim (lease) → call the handler outside any transaction → record.

One :class:`JobWorker` per service process runs every kind the service binds. For each kind
it keeps up to ``kind.concurrency`` handler calls in flight. A claim is its own short
transaction, committed before the handler runs, so no database transaction (and no pooled
connection) is held while the handler talks to Stripe, Graph or restic; the lease is renewed
by a separate short statement while the call lasts. The outcome is recorded in a second short
transaction that first checks the lease is still this worker's: a job another worker took over
(after this one stalled past its lease) records nothing here.

Any exception of a handler, or of the ``apply`` of its outcome, is recorded on that job as a
failed run (back-off, then ``dead``) and the worker goes on with the next job. The worker is
woken by ``NOTIFY prisme_jobs`` on enqueue and sweeps every ``sweep_interval`` seconds (and
when the next delayed job is due) in case a notification was missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import socket
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import cast

import asyncpg
from prisme_events import JobDead, job_dead_type

from .. import after_commit, metrics
from ..bus.outbox import enqueue as enqueue_event
from ..bus.versions import next_version
from . import repository as repo
from .model import (
    BatchOutcome,
    Done,
    Fail,
    Job,
    JobBinding,
    JobKind,
    JobState,
    NewJob,
    Outcome,
    Proceed,
    Retry,
    outcome_of_exception,
    truncate_error,
)

log = logging.getLogger(__name__)


def worker_name(service: str) -> str:
    """``service@host:pid``: who holds a lease, readable in ``lease_owner``."""
    return f"{service}@{socket.gethostname()}:{os.getpid()}"


class JobWorker:
    """Runs the bound job kinds of one service until cancelled."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        bindings: Sequence[JobBinding],
        *,
        name: str,
        service: str | None = None,
        sweep_interval: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        names = [b.kind.name for b in bindings]
        if len(set(names)) != len(names):
            raise ValueError(f"a job kind is bound twice: {names}")
        self.pool = pool
        self.dsn = dsn
        self.bindings: dict[str, JobBinding] = {b.kind.name: b for b in bindings}
        self.name = name
        #: the service's ``job.dead.*`` event, published in the transaction making a job dead
        self.service = service
        self.dead_event: type[JobDead] | None = None if service is None else job_dead_type(service)
        if service is not None and self.dead_event is None:
            log.warning("%s has no job.dead event: dead jobs are only logged and counted", service)
        self.sweep_interval = sweep_interval
        self.rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._in_flight: dict[str, int] = dict.fromkeys(self.bindings, 0)
        #: claimed runs in flight per kind and group (``JobKind.group_concurrency``)
        self._group_in_flight: dict[str, Counter[str]] = {k: Counter() for k in self.bindings}
        self._tasks: set[asyncio.Task[None]] = set()
        #: while :meth:`run` runs: only then are jobs handed over at commit
        self._running = False

    def wake(self) -> None:
        self._wake.set()

    async def enqueue_here(
        self, conn: asyncpg.Connection, kind: JobKind, new_jobs: Sequence[NewJob]
    ) -> None:
        """:func:`~.repository.enqueue_many`, but the jobs this worker has room for are
        inserted already leased to it and handed to it once the caller's transaction commits:
        no wait for the NOTIFY, no claim statement, one row write fewer per job.

        Only inside an :mod:`~prisme_chassis.after_commit` scope (the bus consumer's batch),
        only for a batch-handled kind this worker runs, only jobs due now with no serial key,
        and only as many batches as the kind's free slots and each group's
        ``group_concurrency`` allow; everything else is queued as usual. Durability and
        exactly-once are the claimed jobs': the rows are committed with their lease, a worker
        that dies lets it run out and another takes them over, and only the lease holder
        records an outcome.
        """
        hooks = after_commit.current()
        binding = self.bindings.get(kind.name)
        if hooks is None or binding is None or binding.batch_handler is None or not self._running:
            await repo.enqueue_many(conn, kind, new_jobs)
            return
        policy = binding.kind
        free = policy.concurrency - self._in_flight[policy.name]
        group_free: dict[str | None, int] = {}
        in_group = self._group_in_flight[policy.name]
        chunks: dict[str | None, list[list[NewJob]]] = {}
        queued: list[NewJob] = []
        for job in new_jobs:
            if job.serial_key is not None or job.delay > 0:
                queued.append(job)
                continue
            mine = chunks.setdefault(job.group_key, [])
            if mine and len(mine[-1]) < policy.batch_size:
                mine[-1].append(job)
                continue
            if job.group_key not in group_free:
                limit = policy.group_concurrency
                group_free[job.group_key] = (
                    free
                    if limit is None or job.group_key is None
                    else limit - in_group[job.group_key]
                )
            if free > 0 and group_free[job.group_key] > 0:
                free -= 1
                group_free[job.group_key] -= 1
                mine.append([job])
            else:
                queued.append(job)
        handed = [chunk for group in chunks.values() for chunk in group]
        tokens = [f"{self.name}/{uuid.uuid4().hex[:12]}" for _ in handed]
        leased = await repo.enqueue_leased(
            conn,
            policy,
            [job for chunk in handed for job in chunk],
            [token for token, chunk in zip(tokens, handed, strict=True) for _ in chunk],
        )
        if queued:
            await repo.enqueue_many(conn, kind, queued)
        by_key = {job.key: job for job in leased}
        for token, chunk in zip(tokens, handed, strict=True):
            batch = [by_key[j.key] for j in chunk if j.key in by_key]
            if batch:
                hooks.append(functools.partial(self._start, binding, batch, token))

    def _start(self, binding: JobBinding, jobs: list[Job], token: str) -> None:
        """Run leased ``jobs`` (claimed, or handed over at commit) in their own task."""
        if not self._running:
            return  # shutting down: the lease runs out and another worker takes them
        name = binding.kind.name
        self._in_flight[name] += 1
        groups = self._group_in_flight[name]
        for group in {j.group_key for j in jobs if j.group_key is not None}:
            groups[group] += 1
        task = asyncio.create_task(self._run_claimed(binding, jobs, token))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, kind: object) -> None:
        if not kind or kind in self.bindings:
            self._wake.set()

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            self._listener = await asyncpg.connect(self.dsn)
            await self._listener.add_listener(repo.CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._listener = None
            log.warning("job listener unavailable, sweeping only: %s", exc)

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Claim and run jobs until cancelled; survives database outages."""
        loop = asyncio.get_running_loop()
        last_observe = last_reap = 0.0
        self._running = True
        try:
            while True:
                await self._listen()
                due_in: float | None = None
                try:
                    await self._fill()
                    if loop.time() - last_reap > 5.0:
                        await self._reap()
                        last_reap = loop.time()
                    if loop.time() - last_observe > 1.0:
                        await self.observe()
                        last_observe = loop.time()
                    async with self.pool.acquire() as proxy:
                        conn = cast(asyncpg.Connection, proxy)
                        due_in = await repo.seconds_to_next(conn, list(self.bindings))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - infra outage: retry after the sweep
                    log.warning("job worker will retry: %s", exc)
                timeout = (
                    self.sweep_interval if due_in is None else min(self.sweep_interval, due_in)
                )
                # asyncio.timeout, not wait_for: see the outbox relay (a cancel that lands
                # with a wake is swallowed by Python 3.11's wait_for; the worker never stopped)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.01, timeout)):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            self._running = False
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._listener is not None and not self._listener.is_closed():
                with contextlib.suppress(Exception):
                    await self._listener.close()

    def _busy_groups(self, binding: JobBinding) -> list[str]:
        limit = binding.kind.group_concurrency
        groups = self._group_in_flight[binding.kind.name]
        return [] if limit is None else [g for g, n in groups.items() if n >= limit]

    async def _fill(self) -> None:
        """Claim work for every kind with a free slot; each claim (one statement) commits
        before its call."""
        for name, binding in self.bindings.items():
            while self._in_flight[name] < binding.kind.concurrency:
                token = f"{self.name}/{uuid.uuid4().hex[:12]}"
                async with self.pool.acquire() as proxy:
                    jobs = await repo.claim(
                        cast(asyncpg.Connection, proxy),
                        binding.kind,
                        token,
                        grouped=binding.batch_handler is not None,
                        busy_groups=self._busy_groups(binding),
                    )
                if not jobs:
                    break
                self._start(binding, jobs, token)

    async def _reap(self) -> None:
        for binding in self.bindings.values():
            async with self.pool.acquire() as proxy, proxy.transaction():
                conn = cast(asyncpg.Connection, proxy)
                for job in await repo.reap_abandoned(conn, binding.kind):
                    log.error(
                        "job %s (%s) is dead: its worker stopped on every attempt", job.id, job.kind
                    )
                    metrics.JOB_RUNS.labels(kind=job.kind, outcome="dead").inc()
                    await self._announce_death(conn, binding, job, "worker lost on every attempt")
                    if binding.on_dead is not None:
                        await binding.on_dead(conn, job, "worker lost on every attempt")

    async def observe(self) -> None:
        """Refresh the queue gauges (depth per kind and state, oldest ready, dead)."""
        async with self.pool.acquire() as proxy:
            stats = await repo.stats(cast(asyncpg.Connection, proxy), list(self.bindings))
        for kind, s in stats.items():
            for state, n in s.counts.items():
                metrics.JOBS.labels(kind=kind, state=state.value).set(n)
            metrics.JOBS_DEAD.labels(kind=kind).set(s.counts[JobState.DEAD])
            metrics.JOBS_OLDEST_READY.labels(kind=kind).set(s.oldest_ready_seconds)

    # -- one claimed run ----------------------------------------------------------------------

    def _release_groups(self, binding: JobBinding, jobs: list[Job]) -> None:
        groups = self._group_in_flight[binding.kind.name]
        for group in {j.group_key for j in jobs if j.group_key is not None}:
            groups[group] -= 1
            if groups[group] <= 0:
                del groups[group]

    async def _run_claimed(self, binding: JobBinding, jobs: list[Job], token: str) -> None:
        heartbeat = asyncio.create_task(self._heartbeat(binding, jobs, token))
        released = False
        try:
            outcomes = await self._call(binding, jobs)
            heartbeat.cancel()
            # the group's slot is for calling the outside: its next jobs may be claimed while
            # these outcomes are recorded (they stay leased to this worker until then)
            self._release_groups(binding, jobs)
            released = True
            if binding.kind.group_concurrency is not None:
                self._wake.set()
            if isinstance(outcomes, BatchOutcome):
                await self._record_batch(binding, jobs, outcomes, token)
            else:
                await self._record(binding, jobs, outcomes, token)
        except asyncio.CancelledError:
            # Shutting down: hand the leases back so another worker need not wait them out.

            async def release() -> None:
                async with self.pool.acquire() as proxy:
                    await repo.release(cast(asyncpg.Connection, proxy), [j.id for j in jobs], token)

            # Bounded as a whole: a pool busy or closing must not hold the shutdown (the lease
            # then simply runs out).
            with contextlib.suppress(Exception):
                await asyncio.wait_for(release(), timeout=2.0)
            raise
        except Exception:
            # Recording failed (database down): the lease runs out and the job is run again;
            # its idempotency key keeps the outside effect single.
            log.exception(
                "could not record the outcome of %s jobs %s",
                binding.kind.name,
                [j.id for j in jobs],
            )
        finally:
            heartbeat.cancel()
            self._in_flight[binding.kind.name] -= 1
            if not released:
                self._release_groups(binding, jobs)
            self._wake.set()  # a slot is free, and the next step may be ready

    async def _call(
        self, binding: JobBinding, jobs: list[Job]
    ) -> Mapping[int, Outcome] | BatchOutcome:
        """The handler's call, outside any transaction; every exception becomes an outcome."""
        try:
            if binding.batch_handler is not None:
                return await binding.batch_handler(jobs)
            assert binding.handler is not None
            outcome = await binding.handler(jobs[0])
            return {jobs[0].id: Done() if outcome is None else outcome}
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on the job, never escapes
            log.warning("%s job(s) %s failed: %r", binding.kind.name, [j.id for j in jobs], exc)
            failed = outcome_of_exception(exc)
            return {j.id: failed for j in jobs}

    async def _heartbeat(self, binding: JobBinding, jobs: list[Job], token: str) -> None:
        every = binding.kind.lease_seconds / 3
        ids = [j.id for j in jobs]
        while True:
            await asyncio.sleep(every)
            try:
                async with self.pool.acquire() as proxy:
                    held = await repo.renew_leases(
                        cast(asyncpg.Connection, proxy), ids, token, binding.kind.lease_seconds
                    )
                if held < len(ids):
                    log.warning(
                        "%s: %d of %d leases lost", binding.kind.name, len(ids) - held, len(ids)
                    )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("%s: lease renewal failed: %s", binding.kind.name, exc)

    def _transition(self, binding: JobBinding, job: Job, outcome: Outcome) -> repo.Transition:
        kind = binding.kind
        if isinstance(outcome, Done):
            return repo.Transition(JobState.SUCCEEDED)
        if isinstance(outcome, Proceed):
            payload = None if outcome.payload is None else dict(outcome.payload)
            return repo.Transition(
                JobState.QUEUED, delay=outcome.after, attempts="reset", payload=payload
            )
        if isinstance(outcome, Fail):
            return repo.Transition(JobState.DEAD, error=outcome.error)
        payload = None if outcome.payload is None else dict(outcome.payload)
        if not outcome.counts:
            delay = outcome.after if outcome.after is not None else kind.backoff(1, self.rng)
            return repo.Transition(
                JobState.QUEUED,
                delay=delay,
                error=outcome.error,
                attempts="give_back",
                payload=payload,
            )
        if job.last_attempt:
            error = f"{outcome.error} (attempt {job.attempt} of {job.max_attempts})"
            return repo.Transition(JobState.DEAD, error=error)
        delay = outcome.after if outcome.after is not None else kind.backoff(job.attempt, self.rng)
        return repo.Transition(JobState.QUEUED, delay=delay, error=outcome.error, payload=payload)

    async def _record(
        self, binding: JobBinding, jobs: list[Job], outcomes: Mapping[int, Outcome], token: str
    ) -> None:
        """One short transaction; each job in its own savepoint so one failing ``apply`` or
        hook is recorded on its job alone."""
        async with self.pool.acquire() as proxy, proxy.transaction():
            conn = cast(asyncpg.Connection, proxy)
            for job in jobs:
                outcome = outcomes.get(job.id) or Retry("the batch handler gave no outcome")
                await self._record_job(conn, binding, job, outcome, token)

    async def _record_job(
        self,
        conn: asyncpg.Connection,
        binding: JobBinding,
        job: Job,
        outcome: Outcome,
        token: str,
    ) -> None:
        """Record one job in its own savepoint; a failing ``apply`` or hook is a failed run."""
        try:
            async with conn.transaction():
                await self._record_one(conn, binding, job, outcome, token)
        except Exception as exc:  # noqa: BLE001 - the apply failed: a failed run
            log.warning(
                "%s job %s: recording its outcome failed: %r", binding.kind.name, job.id, exc
            )
            failed = outcome_of_exception(exc)
            if isinstance(failed, Retry):
                failed = Retry(f"recording the outcome failed: {failed.error}")
            try:
                async with conn.transaction():
                    await self._record_one(conn, binding, job, failed, token)
            except Exception:
                log.exception("%s job %s: on_dead failed", binding.kind.name, job.id)
                async with conn.transaction():
                    if await repo.hold(conn, job.id, token):
                        await repo.record(conn, job.id, self._transition(binding, job, failed))

    async def _record_batch(
        self, binding: JobBinding, jobs: list[Job], batch: BatchOutcome, token: str
    ) -> None:
        """A :class:`BatchOutcome` in one short transaction and a few statements: write every
        transition at once on the jobs still held (the statement that checks the leases), run
        the batch's ``apply`` on them and the death hooks. If the ``apply`` (or a hook) fails,
        every held job is recorded as a failed run."""
        by_id = {j.id: j for j in jobs}
        transitions: list[tuple[int, repo.Transition]] = []
        outcomes: dict[int, Outcome] = {}
        for job_id in sorted(by_id):
            outcome = batch.outcomes.get(job_id) or Retry("the batch handler gave no outcome")
            outcomes[job_id] = outcome
            transitions.append((job_id, self._transition(binding, by_id[job_id], outcome)))
        labels: list[str] = []
        async with self.pool.acquire() as proxy, proxy.transaction():
            conn = cast(asyncpg.Connection, proxy)
            held: frozenset[int] | None = None
            try:
                async with conn.transaction():
                    held = await repo.record_held(conn, transitions, token)
                    for job_id in sorted(set(by_id) - held):
                        log.warning(
                            "%s job %s was taken over; its outcome here is dropped",
                            binding.kind.name,
                            job_id,
                        )
                        metrics.JOB_RUNS.labels(kind=binding.kind.name, outcome="lost").inc()
                    if not held:
                        return
                    if batch.apply is not None:
                        await batch.apply(conn, held)
                    for job_id, transition in transitions:
                        if job_id not in held:
                            continue
                        job = by_id[job_id]
                        if transition.state is JobState.DEAD:
                            log.error(
                                "%s job %s is dead: %s", binding.kind.name, job_id, transition.error
                            )
                            await self._announce_death(conn, binding, job, transition.error or "")
                            if binding.on_dead is not None:
                                await binding.on_dead(conn, job, transition.error or "")
                        labels.append(_outcome_label(outcomes[job_id], transition))
            except Exception as exc:
                if held is None:  # the recording statement itself failed: the lease runs out
                    raise
                log.warning(
                    "%s jobs %s: recording the batch failed: %r",
                    binding.kind.name,
                    sorted(held),
                    exc,
                )
                failed = outcome_of_exception(exc)
                if isinstance(failed, Retry):
                    failed = Retry(f"recording the outcome failed: {failed.error}")
                for job_id in sorted(held):
                    await self._record_job(conn, binding, by_id[job_id], failed, token)
                return
        for label in labels:
            metrics.JOB_RUNS.labels(kind=binding.kind.name, outcome=label).inc()

    async def _record_one(
        self,
        conn: asyncpg.Connection,
        binding: JobBinding,
        job: Job,
        outcome: Outcome,
        token: str,
    ) -> None:
        if not await repo.hold(conn, job.id, token):
            log.warning(
                "%s job %s was taken over; its outcome here is dropped", binding.kind.name, job.id
            )
            metrics.JOB_RUNS.labels(kind=job.kind, outcome="lost").inc()
            return
        if outcome.apply is not None:
            await outcome.apply(conn)
        transition = self._transition(binding, job, outcome)
        if transition.state is JobState.DEAD:
            log.error("%s job %s is dead: %s", binding.kind.name, job.id, transition.error)
            await self._announce_death(conn, binding, job, transition.error or "")
            if binding.on_dead is not None:
                await binding.on_dead(conn, job, transition.error or "")
        await repo.record(conn, job.id, transition)
        metrics.JOB_RUNS.labels(kind=job.kind, outcome=_outcome_label(outcome, transition)).inc()

    async def _announce_death(
        self, conn: asyncpg.Connection, binding: JobBinding, job: Job, error: str
    ) -> None:
        """``job.dead.<area>`` through the outbox, in the transaction that makes the job dead
        (published once it commits; nothing if it rolls back)."""
        if self.dead_event is None or self.service is None or not binding.announce_death:
            return
        await enqueue_event(
            conn,
            self.dead_event(
                service=self.service,
                job_id=job.id,
                kind=job.kind,
                key=job.key,
                attempts=job.attempt,
                error=truncate_error(error or "dead", 2000),
                version=await next_version(conn, "job", f"{self.service}:{job.id}"),
            ),
        )


def _outcome_label(outcome: Outcome, transition: repo.Transition) -> str:
    if transition.state is JobState.SUCCEEDED:
        return "succeeded"
    if transition.state is JobState.DEAD:
        return "dead"
    return "proceeded" if isinstance(outcome, Proceed) else "retried"
