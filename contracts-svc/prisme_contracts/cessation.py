"""Early termination for proven cessation of activity (C6).

An operator uploads the official document (PDF, JPEG or PNG, recognised by its content, at
most 10 MB); another operator approves it; the contract then ends at the effective date and
``contract.ended`` (reason ``cessation``) is published. The document is kept in the database
with its SHA-256, so the proof and the approval travel together in backups.

The effective date must already have come (cessation is proven by a document issued once the
activity stopped): it lies within the contract period and is not after today.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime

import asyncpg
from prisme_chassis.bus import enqueue
from prisme_chassis.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)
from prisme_events import ContractEnded

from . import audit, domain
from . import repository as repo
from .facts import Actor, asset_views, contract_audit, event_id
from .schemas import TerminationOut


def check_document(data: bytes) -> str:
    """The document's media type, or a problem: too large (413), empty or unknown (415)."""
    if len(data) > domain.MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(
            f"the document exceeds {domain.MAX_DOCUMENT_BYTES // (1024 * 1024)} MB"
        )
    media_type = domain.sniff_document_type(data[:16])
    if media_type is None:
        raise UnsupportedMediaType(
            "the document must be a PDF, JPEG or PNG file (checked by its content)"
        )
    return media_type


async def request(
    conn: asyncpg.Connection,
    contract_id: uuid.UUID,
    *,
    reason: str,
    effective_date: date,
    document: bytes,
    document_name: str | None,
    actor: Actor,
    today: date,
) -> TerminationOut:
    if reason != "cessation":
        raise Unprocessable(
            "early termination is only possible for cessation of activity (C6)",
            errors=[{"field": "reason", "detail": "expected 'cessation'"}],
        )
    contract = await repo.get_contract(conn, contract_id, lock=True)
    if contract is None:
        raise NotFound(f"contract {contract_id} not found")
    if contract["status"] != "active":
        raise Conflict(
            f"contract is {contract['status']}; only an active contract can be terminated",
            status_now=contract["status"],
        )
    last = min(contract["end_date"], today)
    if not domain.within_contract(contract["start_date"], last, effective_date):
        raise Unprocessable(
            f"effective date {effective_date} must lie between {contract['start_date']} and {last}",
            errors=[
                {
                    "field": "effective_date",
                    "detail": "within the contract period and not in the future",
                }
            ],
        )
    media_type = check_document(document)
    values = {
        "id": uuid.uuid4(),
        "contract_id": contract_id,
        "reason": reason,
        "effective_date": effective_date,
        "document": document,
        "document_type": media_type,
        "document_name": document_name,
        "document_size": len(document),
        "document_sha256": hashlib.sha256(document).hexdigest(),
        "requested_by": actor.sub,
    }
    try:
        row = await repo.insert_termination(conn, values)
    except asyncpg.UniqueViolationError as exc:
        raise Conflict("a termination request is already pending for this contract") from exc
    await audit.record(
        conn,
        actor,
        "termination.requested",
        entity_type="termination",
        entity_id=row["id"],
        client_id=contract["client_id"],
        after={k: v for k, v in values.items() if k != "document"},
    )
    return TerminationOut.model_validate(dict(row))


async def approve(
    conn: asyncpg.Connection, termination_id: uuid.UUID, actor: Actor, now: datetime
) -> TerminationOut:
    """C6: a different operator approves; the contract ends at the effective date."""
    termination = await repo.get_termination(conn, termination_id, lock=True)
    if termination is None:
        raise NotFound(f"termination {termination_id} not found")
    if termination["status"] != "pending":
        raise Conflict(f"termination is already {termination['status']}")
    if termination["requested_by"] == actor.sub:
        raise Forbidden(
            "the operator who uploaded the document cannot approve it (four-eyes rule, C6)"
        )
    contract = await repo.get_contract(conn, termination["contract_id"], lock=True)
    assert contract is not None
    if contract["status"] != "active":
        raise Conflict(
            f"contract is {contract['status']}; it cannot end again", status_now=contract["status"]
        )
    offer = await repo.get_offer(conn, contract["offer"])
    assert offer is not None
    approved = await repo.approve_termination(conn, termination_id, actor.sub)
    updated = await repo.set_contract_state(
        conn,
        contract["id"],
        status="ended",
        end_reason="cessation",
        ended_on=termination["effective_date"],
        ended_at=now,
    )
    views = asset_views(await repo.list_assets(conn, contract["client_id"]))
    await audit.record(
        conn,
        actor,
        "termination.approved",
        entity_type="termination",
        entity_id=termination_id,
        client_id=contract["client_id"],
        before={"status": "pending"},
        after={"status": "approved", "approved_by": actor.sub},
    )
    await audit.record(
        conn,
        actor,
        "contract.ended",
        entity_type="contract",
        entity_id=contract["id"],
        client_id=contract["client_id"],
        before=contract_audit(contract),
        after={**contract_audit(updated), "termination_id": termination_id},
    )
    # A ceased practice carries nothing over (L3): renewal fields stay empty even if a
    # next-year contract exists; the operator cancels or terminates that one separately.
    await enqueue(
        conn,
        ContractEnded(
            event_id=event_id(contract["id"], updated["version"]),
            contract_id=contract["id"],
            client_id=contract["client_id"],
            version=updated["version"],
            offer=contract["offer"],
            includes=list(offer["includes"]),
            year=contract["year"],
            reason="cessation",
            effective_date=termination["effective_date"],
            ended_at=now,
            postes=domain.count_postes(views),
        ),
    )
    return TerminationOut.model_validate(dict(approved))


async def get(conn: asyncpg.Connection, termination_id: uuid.UUID) -> TerminationOut:
    row = await repo.get_termination(conn, termination_id)
    if row is None:
        raise NotFound(f"termination {termination_id} not found")
    return TerminationOut.model_validate(dict(row))


async def document(
    conn: asyncpg.Connection, termination_id: uuid.UUID
) -> tuple[bytes, str, str | None]:
    row = await repo.get_termination_document(conn, termination_id)
    if row is None:
        raise NotFound(f"termination {termination_id} not found")
    return bytes(row["document"]), row["document_type"], row["document_name"]
