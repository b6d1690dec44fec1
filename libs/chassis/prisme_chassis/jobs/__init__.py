"""The durable job queue of the chassis: one way, in every service, to do work that calls the
outside (Stripe, Microsoft Graph, restic, webhook deliveries, e-mails) and must survive a crash.

Declare a kind once, enqueue in the business transaction, bind a handler in the spec::

    from prisme_chassis import jobs

    FINALIZE = jobs.JobKind("billing.stripe_finalize", max_attempts=12, backoff_base=5.0)

    async def request_finalize(conn: asyncpg.Connection, invoice_id: uuid.UUID) -> None:
        # the key comes from domain ids: it also goes to Stripe as its Idempotency-Key
        await jobs.enqueue(conn, FINALIZE, f"invoice:{invoice_id}:finalize",
                           {"invoice_id": str(invoice_id)})

    async def finalize(job: jobs.Job) -> jobs.Outcome:   # outside any transaction
        remote = await stripe.finalize(job.payload["invoice_id"], idempotency_key=job.key)
        async def save(conn: asyncpg.Connection) -> None:  # in the transaction recording it
            await repository.set_stripe_id(conn, job.payload["invoice_id"], remote.id)
        return jobs.Done(apply=save)

    spec = ServiceSpec(..., area="billing", jobs=lambda rt: [FINALIZE.handle(finalize)])

Guarantees: a job exists iff the enqueuing transaction committed; one worker at a time holds
it (a lease renewed while the handler runs, taken over after it runs out when a worker dies);
the handler never runs inside a database transaction; its outcome is recorded only by the
lease holder; any exception is a failed run of that job alone (exponential back-off with
jitter, then ``dead`` after ``max_attempts`` runs); a handler can ask for a precise delay
(``Retry(after=…)`` / ``RetryLater``), give the run back (throttling) or declare a permanent
failure (``Fail`` / ``PermanentFailure``). A run can repeat (crash after the call, before the
record): handlers send ``job.key`` as the idempotency key of their outside call.
"""

from .api import JobNotDead, jobs_router
from .model import (
    Apply,
    ApplyHeld,
    BatchHandler,
    BatchOutcome,
    Done,
    Fail,
    Handler,
    Job,
    JobBinding,
    JobKind,
    JobState,
    JobView,
    NewJob,
    OnDead,
    Outcome,
    PermanentFailure,
    Proceed,
    Retry,
    RetryLater,
    backoff_seconds,
)
from .repository import CHANNEL, cancel, counts, enqueue, enqueue_many, get_state, has_open
from .worker import JobWorker, worker_name

__all__ = [
    "CHANNEL",
    "Apply",
    "ApplyHeld",
    "BatchHandler",
    "BatchOutcome",
    "Done",
    "Fail",
    "Handler",
    "Job",
    "JobBinding",
    "JobKind",
    "JobNotDead",
    "JobState",
    "JobView",
    "JobWorker",
    "NewJob",
    "OnDead",
    "Outcome",
    "PermanentFailure",
    "Proceed",
    "Retry",
    "RetryLater",
    "backoff_seconds",
    "cancel",
    "counts",
    "enqueue",
    "enqueue_many",
    "get_state",
    "has_open",
    "jobs_router",
    "worker_name",
]
