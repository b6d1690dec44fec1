"""Interventions (C7): every remote or on-site intervention at a practice is recorded.

Remote work on what the contract covers is unlimited and never billed; on-site travel and work
outside the contract are billable items that ``intervention.recorded`` hands to billing, which
prices them from its price book and invoices them at the end of the month (B9). Inventory
changes keep recording their own intervention with their amendment (C5, ``amendments.py``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from prisme_chassis import audit, pagination
from prisme_chassis.audit import Actor
from prisme_chassis.bus import enqueue
from prisme_events import BillableItem, InterventionRecorded

from . import domain
from . import repository as repo
from .errors import ClientNotFound, InvalidIntervention
from .schemas import BillableOut, InterventionIn, InterventionOut, InterventionPage

# The event id derives from the intervention id: it is recorded once, published once.
_EVENT_NS = uuid.UUID("0b6c0f1e-4f0e-4c55-9a43-5d3a1f6c7e21")


async def record(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    body: InterventionIn,
    actor: Actor,
    now: datetime,
) -> InterventionOut:
    client = await repo.get_client(conn, client_id)
    if client is None:
        raise ClientNotFound(f"no client {client_id}")
    zone = body.zone.lower() if body.zone else None
    billable = [domain.Billable(b.kind, b.price_code, b.quantity) for b in body.billable]
    problems = domain.intervention_problems(
        mode=body.mode, zone=zone, billable=billable, started_at=body.started_at, now=now
    )
    if problems:
        raise InvalidIntervention(
            "; ".join(detail for _, detail in problems),
            errors=[{"field": f, "detail": d} for f, d in problems],
        )
    day = body.started_at.astimezone(domain.REUNION).date()
    contract = await repo.active_contract_on(conn, client_id, day)
    contract_id = contract["id"] if contract is not None else None
    row = await repo.insert_service_intervention(
        conn,
        {
            "id": uuid.uuid4(),
            "client_id": client_id,
            "contract_id": contract_id,
            "technician": body.technician,
            "started_at": body.started_at,
            "duration_minutes": body.duration_minutes,
            "mode": body.mode,
            "zone": zone,
            "summary": body.summary,
            "billable": [
                {"kind": b.kind, "price_code": b.price_code, "quantity": str(b.quantity)}
                for b in billable
            ],
            "video_id": body.video_id,
            "recorded_by": actor.sub,
        },
    )
    await enqueue(
        conn,
        InterventionRecorded(
            event_id=uuid.uuid5(_EVENT_NS, str(row["id"])),
            intervention_id=row["id"],
            client_id=client_id,
            contract_id=contract_id,
            started_at=body.started_at,
            duration_minutes=body.duration_minutes,
            mode=body.mode,
            billable=[
                BillableItem(
                    kind=b.kind,
                    price_code=b.price_code,
                    quantity=b.quantity,
                    zone=zone if b.kind == "travel" else None,
                )
                for b in billable
            ],
        ),
    )
    out = intervention_out(row)
    await audit.record(
        conn,
        actor,
        "intervention.recorded",
        target_type="intervention",
        target_id=row["id"],
        client_id=client_id,
        after=out.model_dump(mode="json"),
    )
    return out


async def list_page(
    conn: asyncpg.Connection,
    *,
    client_id: uuid.UUID | None,
    since: datetime | None,
    cursor: str | None,
    limit: int,
) -> InterventionPage:
    rows = await repo.list_interventions(
        conn, client_id=client_id, since=since, after=_decode(cursor), limit=limit + 1
    )
    items = [intervention_out(r) for r in rows[:limit]]
    last = rows[limit - 1] if len(rows) > limit else None
    return InterventionPage(items=items, next_cursor=_encode(last) if last else None)


def intervention_out(row: asyncpg.Record) -> InterventionOut:
    return InterventionOut(
        id=row["id"],
        client_id=row["client_id"],
        contract_id=row["contract_id"],
        kind=row["kind"],
        technician=row["technician"],
        started_at=row["started_at"],
        duration_minutes=row["duration_minutes"],
        mode=row["mode"],
        zone=row["zone"],
        summary=row["description"],
        billable=[
            BillableOut(kind=b["kind"], quantity=b["quantity"], price_code=b["price_code"])
            for b in row["billable"]
        ],
        video_id=row["video_id"],
        recorded_by=row["recorded_by"],
        recorded_at=row["performed_at"],
    )


def _encode(row: asyncpg.Record) -> str:
    return pagination.encode(row["started_at"], row["id"])


def _decode(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    return None if after is None else (after[0], after[1])
