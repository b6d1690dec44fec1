"""``job.dead.<service>``: a durable job of the chassis queue ran out of attempts (or failed
for good), published by the chassis in the transaction that made it dead (DESIGN §3: a dead
job is shown and can be retried; the webhooks service turns it into the ``job.dead`` alert).

One subject per producing service, on that service's own stream, so NATS permissions tie the
subject to its producer like every other event: ``job.dead.billing`` can only come from
billing-svc. The payload names the job (id, kind, idempotency key: domain ids, never a secret
— the chassis refuses secret-looking payload keys at enqueue) and its last error.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from .base import _REGISTRY, Event


class JobDead(Event):
    """A durable job went dead: its attempts are spent (or it failed for good). An operator
    sees it on the service's ``GET /v1/jobs?state=dead`` and retries it with
    ``POST /v1/jobs/{id}/retry``. ``version`` counts the deaths of this job (a retried job
    that dies again publishes a higher one)."""

    service: str = Field(description="The service whose job queue holds the job")
    job_id: int = Field(description="The job's id in that service's queue (/v1/jobs/{id})")
    kind: str = Field(description="The job kind, e.g. billing.mail_document")
    key: str = Field(description="The job's idempotency key, built from domain ids")
    attempts: int = Field(ge=0, description="Runs made")
    error: str = Field(max_length=2000, description="The last error")

    def aggregate_id(self) -> str:
        return f"{self.service}:job:{self.job_id}"


class ContractsJobDead(JobDead):
    """A durable job of contracts-svc went dead."""

    subject: ClassVar[str] = "job.dead.contracts"
    source: ClassVar[str] = "contracts-svc"


class BillingJobDead(JobDead):
    """A durable job of billing-svc went dead (a Stripe call, an e-mail to a practice…)."""

    subject: ClassVar[str] = "job.dead.billing"
    source: ClassVar[str] = "billing-svc"


class LicenceJobDead(JobDead):
    """A durable job of licence-svc went dead."""

    subject: ClassVar[str] = "job.dead.licence"
    source: ClassVar[str] = "licence-svc"


class VideoJobDead(JobDead):
    """A durable job of video-svc went dead."""

    subject: ClassVar[str] = "job.dead.video"
    source: ClassVar[str] = "video-svc"


class BackupJobDead(JobDead):
    """A durable job of backup-svc went dead (an export…)."""

    subject: ClassVar[str] = "job.dead.backup"
    source: ClassVar[str] = "backup-svc"


class WebhooksJobDead(JobDead):
    """A durable job of the webhooks service went dead (a delivery, an alert e-mail…)."""

    subject: ClassVar[str] = "job.dead.webhooks"
    source: ClassVar[str] = "webhooks"


def job_dead_type(service: str) -> type[JobDead] | None:
    """The ``job.dead.*`` event ``service`` publishes (also one declared outside the catalogue,
    like the test-only demo service's), or None when it has none."""
    for cls in _REGISTRY.values():
        if issubclass(cls, JobDead) and getattr(cls, "source", None) == service:
            return cls
    return None
