"""What the use cases share at run time: settings, the keyring, job kinds, clients."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Annotated

import asyncpg
from fastapi import Depends
from prisme_chassis import jobs
from prisme_chassis.app import Resources, Runtime, runtime_dependency
from prisme_chassis.mail import Mailer
from prisme_chassis.sealing import Keyring

from .sealing import load_keyring
from .settings import WebhooksSettings
from .ssrf import DeliveryClient, delivery_client


def delivery_kind(settings: WebhooksSettings) -> jobs.JobKind:
    """One run per attempt: the first, then one per step of the schedule (DESIGN.md §4).

    Jobs are grouped by endpoint and claimed in batches (one claim and one recording per
    batch, P8); a worker runs at most four batches of one endpoint at once, so a slow or
    hanging endpoint holds at most four of its ``delivery_concurrency`` slots, and inside them
    at most ``endpoint_concurrency`` POSTs (:meth:`Context.slots`).
    """
    return jobs.JobKind(
        "webhooks.deliver",
        max_attempts=len(settings.retry_schedule) + 1,
        concurrency=settings.delivery_concurrency,
        lease_seconds=max(60.0, settings.timeout_seconds * 4),
        batch_size=settings.delivery_batch,
        group_concurrency=4,
    )


ALERT_MAIL = jobs.JobKind("webhooks.alert_mail", max_attempts=20, backoff_base=10.0)
DIGEST_MAIL = jobs.JobKind("webhooks.digest_mail", max_attempts=20, backoff_base=10.0)


@dataclass
class Context:
    settings: WebhooksSettings
    pool: asyncpg.Pool
    keyring: Keyring
    client: DeliveryClient
    mailer: Mailer
    deliver: jobs.JobKind
    #: in-process limit of concurrent POSTs per endpoint: a slow endpoint holds at most this
    #: many connections, whatever the number of its deliveries waiting
    _slots: dict[uuid.UUID, asyncio.Semaphore] = field(default_factory=dict)

    def slots(self, endpoint_id: uuid.UUID) -> asyncio.Semaphore:
        found = self._slots.get(endpoint_id)
        if found is None:
            found = self._slots[endpoint_id] = asyncio.Semaphore(self.settings.endpoint_concurrency)
        return found


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
