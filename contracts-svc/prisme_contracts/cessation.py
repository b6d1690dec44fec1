"""Early termination for proven cessation of activity (C6).

An operator uploads the official document (PDF, JPEG or PNG, recognised by its content, at
most 10 MB); another operator approves or rejects it with a note; the requester may withdraw
it while it is pending. A rejected or withdrawn request frees the contract for a new one; only
one request is open at a time (pending, or approved and waiting for its date).

The effective date (the last day covered) lies within the contract period. When it has come,
approval ends the contract at once and publishes ``contract.ended`` (reason ``cessation``);
when it is in the future (a practice announcing its closure), approval schedules the ending
and :func:`apply_due` ends the contract on that day, following the platform clock.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime

import asyncpg
from prisme_chassis import audit, pagination
from prisme_chassis.audit import Actor
from prisme_chassis.bus import enqueue
from prisme_chassis.sealing import Keyring
from prisme_events import ContractEnded

from . import domain, sealed_documents
from . import repository as repo
from .errors import (
    ContractNotActive,
    ContractNotFound,
    DocumentTooLarge,
    DocumentTypeRefused,
    EffectiveDateOutOfRange,
    NotTheRequester,
    SelfApproval,
    TerminationDecided,
    TerminationNotFound,
    TerminationPending,
    TerminationReasonRefused,
)
from .facts import asset_views, contract_audit, event_id
from .schemas import TerminationOut


def check_document(data: bytes) -> str:
    """The document's media type, or a problem: too large (413), empty or unknown (415)."""
    if len(data) > domain.MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(
            f"the document exceeds {domain.MAX_DOCUMENT_BYTES // (1024 * 1024)} MB"
        )
    media_type = domain.sniff_document_type(data[:16])
    if media_type is None:
        raise DocumentTypeRefused(
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
    keyring: Keyring,
) -> TerminationOut:
    if reason != "cessation":
        raise TerminationReasonRefused(
            "early termination is only possible for cessation of activity (C6)",
            errors=[{"field": "reason", "detail": "expected 'cessation'"}],
        )
    contract = await repo.get_contract(conn, contract_id, lock=True)
    if contract is None:
        raise ContractNotFound(f"contract {contract_id} not found")
    if contract["status"] != "active":
        raise ContractNotActive(
            f"contract is {contract['status']}; only an active contract can be terminated",
            status_now=contract["status"],
        )
    if not domain.within_contract(contract["start_date"], contract["end_date"], effective_date):
        raise EffectiveDateOutOfRange(
            f"la date d'effet {effective_date} doit être comprise entre le"
            f" {contract['start_date']} et le {contract['end_date']}",
            errors=[{"field": "effective_date", "detail": "within the contract period"}],
        )
    media_type = check_document(document)
    termination_id = uuid.uuid4()
    values = {
        "id": termination_id,
        "contract_id": contract_id,
        "reason": reason,
        "effective_date": effective_date,
        "document": sealed_documents.seal(keyring, termination_id, document),
        "document_type": media_type,
        "document_name": document_name,
        "document_size": len(document),
        "document_sha256": hashlib.sha256(document).hexdigest(),
        "requested_by": actor.sub,
    }
    try:
        row = await repo.insert_termination(conn, values)
    except asyncpg.UniqueViolationError as exc:
        raise TerminationPending(
            "a termination request is already open for this contract (pending or scheduled)"
        ) from exc
    await audit.record(
        conn,
        actor,
        "termination.requested",
        target_type="termination",
        target_id=row["id"],
        client_id=contract["client_id"],
        after={k: v for k, v in values.items() if k != "document"},
    )
    return termination_out(row)


async def _pending(
    conn: asyncpg.Connection, termination_id: uuid.UUID
) -> tuple[asyncpg.Record, asyncpg.Record]:
    termination = await repo.get_termination(conn, termination_id, lock=True)
    if termination is None:
        raise TerminationNotFound(f"termination {termination_id} not found")
    if termination["status"] != "pending":
        raise TerminationDecided(f"termination is already {termination['status']}")
    contract = await repo.get_contract(conn, termination["contract_id"], lock=True)
    assert contract is not None
    return termination, contract


async def approve(
    conn: asyncpg.Connection, termination_id: uuid.UUID, actor: Actor, note: str, now: datetime
) -> TerminationOut:
    """C6/O2: a different operator approves; the contract ends at the effective date (now,
    or on that day when it is still to come)."""
    termination, contract = await _pending(conn, termination_id)
    # O2: maker ≠ checker, by identity: ``sub`` is the operator id the dashboard signed
    if termination["requested_by"] == actor.sub:
        raise SelfApproval(
            "the operator who uploaded the document cannot approve it (four-eyes rule, C6)"
        )
    if contract["status"] != "active":
        raise ContractNotActive(
            f"contract is {contract['status']}; it cannot end again", status_now=contract["status"]
        )
    approved = await repo.decide_termination(
        conn, termination_id, status="approved", actor=actor.sub, note=note, at=now
    )
    await audit.record(
        conn,
        actor,
        "termination.approved",
        target_type="termination",
        target_id=termination_id,
        client_id=contract["client_id"],
        before={"status": "pending", "requested_by": termination["requested_by"]},
        after={"status": "approved", "approved_by": actor.sub, "note": note},
    )
    today = now.astimezone(domain.REUNION).date()
    if termination["effective_date"] > today:
        return termination_out(approved)  # scheduled: apply_due ends it on that day
    return termination_out(await _end_contract(conn, approved, contract, actor, now))


async def reject(
    conn: asyncpg.Connection, termination_id: uuid.UUID, actor: Actor, note: str, now: datetime
) -> TerminationOut:
    """C6/O2: another operator rejects the request; the contract stays as it is and a new
    request is possible."""
    termination, contract = await _pending(conn, termination_id)
    if termination["requested_by"] == actor.sub:
        raise SelfApproval(
            "the requester cannot decide on their own request (four-eyes rule, C6);"
            " withdraw it instead"
        )
    rejected = await repo.decide_termination(
        conn, termination_id, status="rejected", actor=actor.sub, note=note, at=now
    )
    await audit.record(
        conn,
        actor,
        "termination.rejected",
        target_type="termination",
        target_id=termination_id,
        client_id=contract["client_id"],
        before={"status": "pending", "requested_by": termination["requested_by"]},
        after={"status": "rejected", "decided_by": actor.sub, "note": note},
    )
    return termination_out(rejected)


async def withdraw(
    conn: asyncpg.Connection, termination_id: uuid.UUID, actor: Actor, now: datetime
) -> TerminationOut:
    """C6: the requester takes back a pending request (e.g. the wrong document)."""
    termination, contract = await _pending(conn, termination_id)
    if termination["requested_by"] != actor.sub:
        raise NotTheRequester("only the operator who made the request can withdraw it")
    withdrawn = await repo.decide_termination(
        conn, termination_id, status="withdrawn", actor=actor.sub, note=None, at=now
    )
    await audit.record(
        conn,
        actor,
        "termination.withdrawn",
        target_type="termination",
        target_id=termination_id,
        client_id=contract["client_id"],
        before={"status": "pending"},
        after={"status": "withdrawn"},
    )
    return termination_out(withdrawn)


SCHEDULER = Actor.system("cessation-scheduler")


async def apply_due(conn: asyncpg.Connection, now: datetime, limit: int = 100) -> int:
    """End the contracts whose approved cessation date has come (C6); idempotent.

    Run by the scheduler, on the platform clock. A contract that already ended otherwise
    (year-end) leaves its cessation applied with nothing more to do."""
    today = now.astimezone(domain.REUNION).date()
    done = 0
    for termination in await repo.due_terminations(conn, today, limit):
        contract = await repo.get_contract(conn, termination["contract_id"], lock=True)
        assert contract is not None
        if contract["status"] == "active":
            await _end_contract(conn, termination, contract, SCHEDULER, now)
        else:
            await repo.mark_termination_applied(conn, termination["id"], now)
            # O3: the scheduler closed the request; the contract had ended otherwise
            await audit.record(
                conn,
                SCHEDULER,
                "termination.applied",
                target_type="termination",
                target_id=termination["id"],
                client_id=contract["client_id"],
                detail={
                    "contract_id": contract["id"],
                    "contract_status": contract["status"],
                    "effective_date": termination["effective_date"],
                },
            )
        done += 1
    return done


async def _end_contract(
    conn: asyncpg.Connection,
    termination: asyncpg.Record,
    contract: asyncpg.Record,
    actor: Actor,
    now: datetime,
) -> asyncpg.Record:
    offer = await repo.get_offer(conn, contract["offer"])
    assert offer is not None
    updated = await repo.set_contract_state(
        conn,
        contract["id"],
        status="ended",
        end_reason="cessation",
        ended_on=termination["effective_date"],
        ended_at=now,
    )
    applied = await repo.mark_termination_applied(conn, termination["id"], now)
    views = asset_views(await repo.list_assets(conn, contract["client_id"]))
    await audit.record(
        conn,
        actor,
        "contract.ended",
        target_type="contract",
        target_id=contract["id"],
        client_id=contract["client_id"],
        before=contract_audit(contract),
        after={**contract_audit(updated), "termination_id": termination["id"]},
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
    return applied


def termination_out(row: asyncpg.Record) -> TerminationOut:
    return TerminationOut(
        id=row["id"],
        contract_id=row["contract_id"],
        reason=row["reason"],
        effective_date=row["effective_date"],
        status=row["status"],
        scheduled=row["status"] == "approved" and row["applied_at"] is None,
        document_type=row["document_type"],
        document_name=row["document_name"],
        document_size=row["document_size"],
        document_sha256=row["document_sha256"],
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        approved_by=row["approved_by"],
        approved_at=row["approved_at"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        decision_note=row["decision_note"],
        applied_at=row["applied_at"],
    )


async def get(conn: asyncpg.Connection, termination_id: uuid.UUID) -> TerminationOut:
    row = await repo.get_termination(conn, termination_id)
    if row is None:
        raise TerminationNotFound(f"termination {termination_id} not found")
    return termination_out(row)


async def list_requests(
    conn: asyncpg.Connection,
    *,
    status: str | None,
    contract_id: uuid.UUID | None,
    client_id: uuid.UUID | None,
    limit: int,
    cursor: str | None = None,
) -> pagination.Page[TerminationOut]:
    """A page of cessation requests, oldest first (``requested_at``, then ``id``)."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    rows = await repo.list_terminations(
        conn,
        status=status,
        contract_id=contract_id,
        client_id=client_id,
        limit=limit + 1,
        after=after,
    )
    return pagination.Page[TerminationOut].of(
        rows, limit, key=lambda r: (r["requested_at"], r["id"]), out=termination_out
    )


async def document(
    conn: asyncpg.Connection, termination_id: uuid.UUID, keyring: Keyring
) -> tuple[bytes, str, str | None]:
    row = await repo.get_termination_document(conn, termination_id)
    if row is None:
        raise TerminationNotFound(f"termination {termination_id} not found")
    data = sealed_documents.open_document(keyring, termination_id, bytes(row["document"]))
    return data, row["document_type"], row["document_name"]
