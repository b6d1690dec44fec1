from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import asyncpg
import httpx
from fastapi import APIRouter, FastAPI
from opentelemetry import trace
from prisme_chassis import audit, jobs
from prisme_chassis.app import Resources, Runtime, ServiceSpec, Tx, create_app, run
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.bus import Subscription, enqueue, enqueue_many
from prisme_chassis.errors import NotFound
from prisme_chassis.settings import ServiceSettings
from prisme_events import Event, JobDead, StreamSpec
from pydantic import AliasChoices, BaseModel, Field

DEMO_STREAM = StreamSpec("DEMO", ("demo.>",), "demo-svc")


class DemoItemCreated(Event):
    """Test-only event of the demo service."""

    subject: ClassVar[str] = "demo.item_created"
    source: ClassVar[str] = "demo-svc"
    item_id: uuid.UUID
    n: int
    version: int = 1  # an item is created once and never changes

    def aggregate_id(self) -> str:
        return str(self.item_id)


class DemoJobDead(JobDead):
    """Test-only: a demo job went dead (the chassis publishes it, as for every service)."""

    subject: ClassVar[str] = "demo.job_dead"
    source: ClassVar[str] = "demo-svc"


class DemoSettings(ServiceSettings):
    database_url: str = Field(
        validation_alias=AliasChoices("database_url", "PRISME_DEMO_DATABASE_URL")
    )
    batch_effects: bool = False  # apply effects with a set-based batch handler
    sink_url: str = ""  # where the demo.deliver job POSTs (a test's stand-in)
    job_lease_seconds: float = 30.0
    job_backoff_seconds: float = 0.2


class NewItem(BaseModel):
    n: int = 0
    poison: bool = False  # its effect raises a business error (ValueError) until cured
    infra: bool = False  # its effect raises an infrastructure error (ConnectionRefusedError)
    rollback: bool = False


class Bulk(BaseModel):
    count: int = Field(ge=1, le=100_000)


class Boom(Exception):
    pass


router = APIRouter()


@router.post("/items", status_code=201)
async def create_item(
    body: NewItem, conn: Tx, actor: audit.ActorDep, who: Principal = require_scopes("admin")
) -> dict[str, str]:
    item_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO items (id, n, poison, infra_fail) VALUES ($1, $2, $3, $4)",
        item_id,
        body.n,
        body.poison,
        body.infra,
    )
    await enqueue(conn, DemoItemCreated(item_id=item_id, n=body.n))
    await audit.record(
        conn, actor, "item.created", target_type="item", target_id=item_id, after={"n": body.n}
    )
    if body.rollback:
        raise Boom("rolled back on purpose")
    return {"id": str(item_id)}


@router.post("/items/bulk", status_code=201)
async def create_items(
    body: Bulk, conn: Tx, actor: audit.ActorDep, who: Principal = require_scopes("admin")
) -> dict[str, int]:
    events = [DemoItemCreated(item_id=uuid.uuid4(), n=i) for i in range(body.count)]
    await conn.executemany(
        "INSERT INTO items (id, n) VALUES ($1, $2)", [(e.item_id, e.n) for e in events]
    )
    await enqueue_many(conn, events)
    await audit.record(conn, actor, "item.created_in_bulk", detail={"count": body.count})
    return {"count": body.count}


@router.post("/items/{item_id}/cure", status_code=204)
async def cure(
    item_id: uuid.UUID, conn: Tx, actor: audit.ActorDep, who: Principal = require_scopes("admin")
) -> None:
    await conn.execute("INSERT INTO cured VALUES ($1) ON CONFLICT DO NOTHING", item_id)
    await audit.record(conn, actor, "item.cured", target_type="item", target_id=item_id)


async def on_item_created(conn: asyncpg.Connection, event: DemoItemCreated) -> None:
    await on_items_created(conn, [event])


async def on_items_created(conn: asyncpg.Connection, events: Sequence[DemoItemCreated]) -> None:
    """The effect: one row per event, in one statement for the whole batch."""
    failing = await conn.fetchval(
        "SELECT count(*) FROM items i WHERE i.id = ANY($1::uuid[]) AND i.infra_fail"
        " AND NOT EXISTS (SELECT 1 FROM cured c WHERE c.item_id = i.id)",
        [e.item_id for e in events],
    )
    if failing:
        raise ConnectionRefusedError(f"{failing} item(s) reach an unreachable dependency")
    span = trace.get_current_span().get_span_context()
    trace_id = format(span.trace_id, "032x") if span.is_valid else None
    applied = await conn.fetchval(
        """
        WITH new AS (
            INSERT INTO effects (item_id, event_id, trace_id, sent_at)
            SELECT e.item_id, e.event_id, $3, e.sent_at
            FROM unnest($1::uuid[], $2::uuid[], $4::timestamptz[]) AS e(item_id, event_id, sent_at)
            JOIN items i ON i.id = e.item_id
            WHERE NOT i.poison OR EXISTS (SELECT 1 FROM cured c WHERE c.item_id = e.item_id)
            RETURNING 1
        )
        SELECT count(*) FROM new
        """,
        [e.item_id for e in events],
        [e.event_id for e in events],
        trace_id,
        [e.occurred_at for e in events],
    )
    if applied != len(events):
        raise ValueError(f"{len(events) - applied} poisoned item(s) among {len(events)}")


@dataclass(frozen=True)
class DemoContext:
    """The demo holds nothing of its own; a real service keeps its clients and keys here."""


async def build_context(resources: Resources[DemoSettings]) -> DemoContext:
    return DemoContext()


DemoRuntime = Runtime[DemoSettings, DemoContext]


# -- a job kind: deliver an item to an outside system (the chassis job queue's worked example)

DELIVER = jobs.JobKind("demo.deliver", max_attempts=5, backoff_base=0.2, backoff_cap=2.0)


@router.post("/items/{item_id}/deliveries", status_code=202)
async def deliver_item(
    item_id: uuid.UUID, conn: Tx, actor: audit.ActorDep, who: Principal = require_scopes("admin")
) -> dict[str, int]:
    """Ask for the item to be delivered outside: a job, enqueued with the state change."""
    if await conn.fetchval("SELECT 1 FROM items WHERE id = $1", item_id) is None:
        raise NotFound(f"no item {item_id}")
    # One delivery per item: the key names it, and the outside dedups on it.
    job_id = await jobs.enqueue(conn, DELIVER, f"item:{item_id}:deliver", {"item_id": str(item_id)})
    await audit.record(
        conn, actor, "item.delivery_requested", target_type="item", target_id=item_id
    )
    return {"job_id": job_id}


async def deliver(sink_url: str, job: jobs.Job) -> jobs.Outcome:
    """POST the item to the sink, outside any transaction; record its receipt with the job."""
    if not sink_url:
        raise jobs.PermanentFailure("no sink configured")
    async with httpx.AsyncClient(timeout=60.0) as client:
        resp = await client.post(
            sink_url, json=dict(job.payload), headers={"Idempotency-Key": job.key}
        )
    if resp.status_code == 429:
        raise jobs.RetryLater(
            "sink throttled", after=float(resp.headers.get("Retry-After", "1")), counts=False
        )
    if 400 <= resp.status_code < 500:
        return jobs.Fail(f"sink refused: {resp.status_code}")
    resp.raise_for_status()
    receipt = str(resp.json()["receipt"])

    async def save(conn: asyncpg.Connection) -> None:
        await conn.execute(
            "INSERT INTO deliveries (item_id, receipt) VALUES ($1, $2)",
            uuid.UUID(job.payload["item_id"]),
            receipt,
        )

    return jobs.Done(apply=save)


def job_kinds(rt: DemoRuntime) -> list[jobs.JobBinding]:
    settings = rt.settings
    kind = DELIVER.with_policy(
        lease_seconds=settings.job_lease_seconds, backoff_base=settings.job_backoff_seconds
    )
    return [kind.handle(lambda job: deliver(settings.sink_url, job))]


def subscriptions(rt: DemoRuntime) -> list[Subscription]:
    if rt.settings.batch_effects:
        return [
            Subscription(
                durable="demo-items",
                stream=DEMO_STREAM.name,
                batch_handlers={DemoItemCreated: on_items_created},
                max_deliver=3,
                backoff=(0.1, 0.2),
                batch=500,
                partitions=4,
            )
        ]
    return [
        Subscription(
            durable="demo-items",
            stream=DEMO_STREAM.name,
            handlers={DemoItemCreated: on_item_created},
            max_deliver=3,
            backoff=(0.1, 0.2),
            batch=500,
            partitions=4,
        )
    ]


spec = ServiceSpec(
    name="demo-svc",
    migrations=Path(__file__).parent / "migrations",
    context=build_context,
    routers=[router],
    subscriptions=subscriptions,
    stream=DEMO_STREAM,
    jobs=job_kinds,
)


def build_app(settings: DemoSettings | None = None) -> FastAPI:
    return create_app(spec, settings or DemoSettings())


def main() -> None:
    run(build_app)
