"""What the use cases share at run time: settings, the keyring, job kinds, clients."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
import httpx
from fastapi import Depends
from prisme_chassis import jobs
from prisme_chassis.app import Resources, Runtime, runtime_dependency
from prisme_chassis.mail import Mailer
from prisme_chassis.sealing import Keyring

from .sealing import load_keyring
from .settings import WebhooksSettings
from .ssrf import delivery_client


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
    pool: asyncpg.Pool
    keyring: Keyring
    client: httpx.AsyncClient
    mailer: Mailer
    deliver: jobs.JobKind
    #: in-process limit of concurrent deliveries per endpoint: a slow endpoint holds at most
    #: this many of the worker's slots, the others stay free for everyone else
    busy: defaultdict[uuid.UUID, int] = field(default_factory=lambda: defaultdict(int))

    def try_acquire(self, endpoint_id: uuid.UUID) -> bool:
        if self.busy[endpoint_id] >= self.settings.endpoint_concurrency:
            return False
        self.busy[endpoint_id] += 1
        return True

    def release(self, endpoint_id: uuid.UUID) -> None:
        self.busy[endpoint_id] -= 1
        if self.busy[endpoint_id] <= 0:
            del self.busy[endpoint_id]


async def build_context(resources: Resources[WebhooksSettings]) -> Context:
    settings = resources.settings
    return Context(
        settings=settings,
        pool=resources.pool,
        keyring=load_keyring(settings),
        client=delivery_client(
            timeout=settings.timeout_seconds,
            enforce=settings.enforce_public_urls,
            connections=settings.delivery_concurrency,
        ),
        mailer=Mailer(settings),
        deliver=delivery_kind(settings),
    )


WebhooksRuntime = Runtime[WebhooksSettings, Context]
WebhooksRuntimeDep = Annotated[
    WebhooksRuntime, Depends(runtime_dependency(WebhooksSettings, Context))
]
