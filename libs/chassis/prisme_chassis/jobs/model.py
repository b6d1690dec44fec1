"""What a job is, how a kind of job behaves, and what a handler answers (no I/O here).

A service declares each kind of work once, as a module-level :class:`JobKind` (its name and
its retry policy), enqueues jobs of it in its business transactions, and binds a handler to it
in ``ServiceSpec.jobs``. The handler runs outside any database transaction and answers with an
:data:`Outcome`; whatever must be written with that outcome goes in the outcome's ``apply``,
which the worker runs in the short transaction that records it.
"""

from __future__ import annotations

import enum
import math
import random
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import asyncpg

#: Writes that belong with an outcome; run in the transaction recording it, only while the
#: worker still holds the job's lease (a job taken over by another worker records nothing).
Apply = Callable[[asyncpg.Connection], Awaitable[None]]

_KIND_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_SECRET_KEY = re.compile(r"password|secret|passphrase|private_key|api_key", re.IGNORECASE)


class JobState(enum.StrEnum):
    """``queued`` (waiting for ``next_attempt_at``), ``running`` (leased), then ``succeeded``,
    ``dead`` (permanent failure or attempts exhausted; an operator can retry it) or
    ``cancelled`` (withdrawn by the service before it ran)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JobKind:
    """A kind of durable work and its retry policy.

    ``name`` is dotted and owned by the service (``billing.stripe_call``). A failed run is
    retried after ``backoff_base × 2^(attempt-1)`` seconds (capped at ``backoff_cap``, with
    full jitter down to half), at most ``max_attempts`` runs, then the job is ``dead``.
    A worker holds a job for ``lease_seconds`` and renews the lease while the handler runs;
    a worker that dies lets the lease run out and another worker takes the job over.
    ``concurrency`` is the number of handler calls (or batches) of this kind one worker runs
    at once; ``batch_size`` > 1 only with a batch handler. ``group_concurrency`` caps the
    calls (or batches) of one ``group_key`` among them: a slow group (one tenant, one webhook
    endpoint) never holds more of the worker's slots, the others keep serving the rest.
    """

    name: str
    max_attempts: int = 10
    backoff_base: float = 2.0
    backoff_cap: float = 900.0
    lease_seconds: float = 60.0
    concurrency: int = 4
    batch_size: int = 1
    group_concurrency: int | None = None

    def __post_init__(self) -> None:
        if not _KIND_NAME.match(self.name):
            raise ValueError(f"job kind name must be dotted lower-case words: {self.name!r}")
        if self.max_attempts < 1 or self.concurrency < 1 or self.batch_size < 1:
            raise ValueError("max_attempts, concurrency and batch_size must be at least 1")
        if self.group_concurrency is not None and self.group_concurrency < 1:
            raise ValueError("group_concurrency must be at least 1 (or None: no cap)")
        if self.lease_seconds <= 0 or self.backoff_base < 0 or self.backoff_cap < 0:
            raise ValueError("lease_seconds must be positive, back-off not negative")

    def with_policy(self, **changes: float) -> JobKind:
        """The same kind with a policy changed from settings (``lease_seconds=…``); bind the
        result. ``max_attempts`` given here applies from the job's next run on."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds before the run after failed run number ``attempt`` (1-based)."""
        return backoff_seconds(attempt, self.backoff_base, self.backoff_cap, rng)

    def handle(
        self, handler: Handler, *, on_dead: OnDead | None = None, announce_death: bool = True
    ) -> JobBinding:
        """Bind a one-job handler to this kind (for ``ServiceSpec.jobs``)."""
        return JobBinding(self, handler=handler, on_dead=on_dead, announce_death=announce_death)

    def handle_batch(
        self, handler: BatchHandler, *, on_dead: OnDead | None = None, announce_death: bool = True
    ) -> JobBinding:
        """Bind a batch handler: up to ``batch_size`` ready jobs of one group per call."""
        return JobBinding(
            self, batch_handler=handler, on_dead=on_dead, announce_death=announce_death
        )


def backoff_seconds(
    attempt: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Exponential back-off with jitter: uniform in [d/2, d], d = min(cap, base × 2^(attempt-1)).

    The jitter spreads the retries of jobs that failed together (one outage) so they do not
    come back in one burst; the lower half-bound keeps the growth visible.
    """
    exponent = max(0, attempt - 1)
    delay = cap if exponent > 60 else min(cap, base * math.pow(2, exponent))
    return (rng or random).uniform(delay / 2, delay)


@dataclass(frozen=True)
class NewJob:
    """One job to enqueue.

    ``key`` is the idempotency key, unique per kind and built from domain ids
    (``f"invoice:{invoice_id}:finalize"``): enqueuing the same key twice gives one job, and
    the handler sends it to the outside (Stripe's ``Idempotency-Key``, Graph's look-up) so a
    run repeated after a crash has its effect once. ``payload`` is JSON with ids and facts,
    never a secret. ``delay`` postpones the first run by that many seconds.
    """

    key: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    group_key: str | None = None
    serial_key: str | None = None
    delay: float = 0.0

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a job needs an idempotency key")
        secret = _secret_path(self.payload)
        if secret is not None:
            raise ValueError(f"job payloads never carry secrets (key {secret!r})")


def _secret_path(value: object, path: str = "") -> str | None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            here = f"{path}.{k}" if path else str(k)
            if _SECRET_KEY.search(str(k)):
                return here
            found = _secret_path(v, here)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = _secret_path(v, f"{path}[{i}]")
            if found is not None:
                return found
    return None


@dataclass(frozen=True)
class Job:
    """A leased job as its handler sees it. ``attempt`` is 1 on the first run."""

    id: int
    kind: str
    key: str
    payload: Mapping[str, Any]
    attempt: int
    max_attempts: int
    group_key: str | None
    serial_key: str | None
    last_error: str | None
    created_at: datetime

    @property
    def last_attempt(self) -> bool:
        """True when a failure of this run makes the job dead."""
        return self.attempt >= self.max_attempts


@dataclass(frozen=True)
class JobView:
    """A job as the operational routes list it."""

    id: int
    kind: str
    key: str
    state: JobState
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


# -- what a handler answers ------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """The job succeeded; ``apply`` records its effect (ids returned by the outside…)."""

    apply: Apply | None = None


@dataclass(frozen=True)
class Retry:
    """Run the job again later.

    ``after`` is the delay the other side asked for (429/503 ``Retry-After``); without it
    the kind's back-off applies. ``counts=False`` gives the run back (throttling the other side
    asked for is not a failure of the job, L4); otherwise the job is dead once its attempts
    are spent.
    """

    error: str
    after: float | None = None
    counts: bool = True
    apply: Apply | None = None
    #: replaces the job's payload for the next run (the step a multi-step job had reached)
    payload: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Proceed:
    """The job made progress and has more to do: ``payload`` replaces its payload (the next
    step) and it is ready again after ``after`` seconds; the run is not counted as failed."""

    payload: Mapping[str, Any] | None = None
    after: float = 0.0
    apply: Apply | None = None


@dataclass(frozen=True)
class Fail:
    """A permanent failure (the other side refused for good): the job is dead at once."""

    error: str
    apply: Apply | None = None


Outcome = Done | Retry | Proceed | Fail

#: One set-based write for a whole batch, given the ids of the jobs the worker still holds
#: (a job taken over meanwhile is left out: its effects are not this run's to record).
ApplyHeld = Callable[[asyncpg.Connection, frozenset[int]], Awaitable[None]]


@dataclass(frozen=True)
class BatchOutcome:
    """What a batch handler may answer instead of a mapping: each job's outcome (without an
    ``apply`` of its own) and one ``apply`` for the whole batch. The worker then records the
    batch in a few statements whatever its size (P2: no per-job round trip), and if that
    ``apply`` fails, records every job of the batch as a failed run."""

    outcomes: Mapping[int, Outcome]
    apply: ApplyHeld | None = None

    def __post_init__(self) -> None:
        if any(o.apply is not None for o in self.outcomes.values()):
            raise ValueError("the outcomes of a BatchOutcome carry no apply of their own")


class RetryLater(Exception):
    """Raised by a handler (or its client) to ask for a retry, e.g. on 429 with Retry-After."""

    def __init__(self, error: str, *, after: float | None = None, counts: bool = True) -> None:
        super().__init__(error)
        self.error = error
        self.after = after
        self.counts = counts


class PermanentFailure(Exception):
    """Raised by a handler to declare the job can never succeed: it is dead at once."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def outcome_of_exception(exc: BaseException) -> Outcome:
    """Any exception of a handler becomes an outcome recorded on that job, never a crash."""
    if isinstance(exc, RetryLater):
        return Retry(exc.error, after=exc.after, counts=exc.counts)
    if isinstance(exc, PermanentFailure):
        return Fail(exc.error)
    text = str(exc)
    return Retry(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


Handler = Callable[[Job], Awaitable[Outcome | None]]
"""A one-job handler: ``None`` means :class:`Done`; any exception is a failed run."""

BatchHandler = Callable[[Sequence[Job]], Awaitable[Mapping[int, Outcome] | BatchOutcome]]
"""A batch handler: the outcome of each job by job id (a job left out is a failed run), or a
:class:`BatchOutcome` recorded set-based."""

OnDead = Callable[[asyncpg.Connection, Job, str], Awaitable[None]]
"""Runs in the transaction that makes a job dead (alert, a ``*.failed`` event)."""


@dataclass(frozen=True)
class JobBinding:
    """A kind with its handler, as a service lists it in ``ServiceSpec.jobs``."""

    kind: JobKind
    handler: Handler | None = None
    batch_handler: BatchHandler | None = None
    on_dead: OnDead | None = None
    #: publish the service's ``job.dead.<area>`` when a job dies (the ``job.dead`` alert);
    #: False when ``on_dead`` already publishes the service's own failure event that alerts
    #: (licence's ``licence.failed``), so one failure raises one alert
    announce_death: bool = True

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.batch_handler is None):
            raise ValueError(f"{self.kind.name}: give exactly one of handler or batch_handler")
        if self.handler is not None and self.kind.batch_size != 1:
            raise ValueError(f"{self.kind.name}: batch_size > 1 needs a batch handler")


def truncate_error(error: str, limit: int = 2000) -> str:
    """Errors are stored whole up to ``limit`` characters (a traceback tail is not needed)."""
    return error if len(error) <= limit else error[: limit - 1] + "…"
