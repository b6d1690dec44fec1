"""What the use cases share at run time: settings, the sealer, job kinds, clients."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
from prisme_chassis import jobs

from .mailer import Mailer
from .sealing import Sealer
from .settings import WebhooksSettings


def delivery_kind(settings: WebhooksSettings) -> jobs.JobKind:
    # one run per attempt: the first, then one per step of the schedule (DESIGN.md §4)
    return jobs.JobKind(
        "webhooks.deliver",
        max_attempts=len(settings.retry_schedule) + 1,
        concurrency=settings.delivery_concurrency,
        lease_seconds=max(60.0, settings.timeout_seconds * 4),
    )


ALERT_MAIL = jobs.JobKind("webhooks.alert_mail", max_attempts=20, backoff_base=10.0)
DIGEST_MAIL = jobs.JobKind("webhooks.digest_mail", max_attempts=20, backoff_base=10.0)


@dataclass
class Context:
    settings: WebhooksSettings
    sealer: Sealer
    client: httpx.AsyncClient
    mailer: Mailer
    deliver: jobs.JobKind
    #: in-process limit of concurrent deliveries per endpoint: a slow endpoint holds at most
    #: this many of the worker's slots, the others stay free for everyone else
    busy: defaultdict[uuid.UUID, int] = field(default_factory=lambda: defaultdict(int))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def try_acquire(self, endpoint_id: uuid.UUID) -> bool:
        if self.busy[endpoint_id] >= self.settings.endpoint_concurrency:
            return False
        self.busy[endpoint_id] += 1
        return True

    def release(self, endpoint_id: uuid.UUID) -> None:
        self.busy[endpoint_id] -= 1
        if self.busy[endpoint_id] <= 0:
            del self.busy[endpoint_id]
