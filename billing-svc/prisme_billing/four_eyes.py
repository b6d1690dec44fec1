"""Four eyes (O2), one mechanism for every kind of request: an operator asks, a different
operator holding ``billing:approve`` approves or rejects, and only an approval has an effect.

The request stores the maker, the exact payload and its hash, an expiry, then the decision with
its note; maker ≠ checker by the token's ``sub`` (and a CHECK in the table); the stored payload
must still match its hash. Every step is written to the chassis audit trail (O3) in the caller's
transaction. What differs between kinds (what is checked when asked, what approving does, how
each step is audited) is a :class:`Kind`: corrections (``corrections.py``), price-book changes
(``price_changes.py``). No SQL and no HTTP here; the route owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg
from prisme_chassis import audit
from prisme_chassis.audit import Actor
from prisme_chassis.errors import Conflict, Forbidden

from . import errors
from . import repository as repo

#: A request not decided within this delay can no longer be approved (O2).
APPROVAL_TTL = timedelta(days=7)


class SelfApproval(Forbidden):
    """O2: the maker of a four-eyes request cannot be its checker."""

    code = "self-approval"
    title = "Self-approval refused (four eyes)"


class ApprovalClosed(Conflict):
    code = "approval-closed"
    title = "The request is no longer pending"


@dataclass(frozen=True)
class Trail:
    """The audit row of one step (its actor, reason and time are the step's)."""

    action: str
    target_type: str
    target_id: object = None
    before: Any = None
    after: Any = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Applied:
    """What approving did: its audit row and what it made (a credit note, a version)."""

    trail: Trail
    result_id: uuid.UUID | None = None
    result_version: int | None = None


class Kind(Protocol):
    """The kind-specific part of a request (the strategy of one ``approvals.kind``)."""

    name: str

    def requested(self, approval: asyncpg.Record) -> Trail:
        """The audit row of the request."""
        ...

    async def apply(
        self, conn: asyncpg.Connection, approval: asyncpg.Record, checker: Actor
    ) -> Applied:
        """The effect of an approval, in the caller's transaction (checked again first)."""
        ...

    def rejected(self, approval: asyncpg.Record) -> Trail:
        """The audit row of a rejection."""
        ...


async def request(
    conn: asyncpg.Connection,
    kind: Kind,
    payload: dict[str, Any],
    *,
    target_id: uuid.UUID | None = None,
    reason: str,
    maker: Actor,
    now: datetime,
) -> asyncpg.Record:
    """O2: record a request the caller has checked; it waits for another operator."""
    expires_at = now + APPROVAL_TTL
    approval = await repo.insert_approval(
        conn, kind=kind.name, target_id=target_id, payload=payload, reason=reason,
        maker=maker.sub, maker_name=maker.name, expires_at=expires_at,
    )  # fmt: skip
    await _record(conn, maker, kind.requested(approval), reason)
    return approval


async def decide(
    conn: asyncpg.Connection,
    kinds: Mapping[str, Kind],
    approval_id: uuid.UUID,
    *,
    approve: bool,
    checker: Actor,
    note: str,
    now: datetime,
) -> asyncpg.Record:
    """O2: another operator approves (the kind's effect, then the decision, at once) or
    refuses (nothing is applied); either way the request is closed and audited."""
    approval = await _pending(conn, approval_id, checker.sub, now)
    kind = kinds[approval["kind"]]
    if approve:
        done = await kind.apply(conn, approval, checker)
    else:
        done = Applied(kind.rejected(approval))
    decided = await repo.decide_approval(
        conn, approval_id, status="approved" if approve else "rejected", checker=checker.sub,
        checker_name=checker.name, note=note, result_id=done.result_id,
        result_version=done.result_version,
    )  # fmt: skip
    await _record(conn, checker, done.trail, note)
    return decided


async def _pending(
    conn: asyncpg.Connection, approval_id: uuid.UUID, checker: str, now: datetime
) -> asyncpg.Record:
    """The request, locked, when ``checker`` may still decide on it."""
    approval = await repo.approval(conn, approval_id, lock=True)
    if approval is None:
        raise errors.ApprovalNotFound("no such approval request", approval_id=approval_id)
    if approval["status"] != "pending":
        raise ApprovalClosed(f"this request is {approval['status']}", status_now=approval["status"])
    if approval["expires_at"] <= now:
        raise ApprovalClosed("this request expired; the maker must request it again")
    # O2: maker ≠ checker, by identity (``sub`` of the bearer token).
    if approval["maker"] == checker:
        raise SelfApproval("the operator who made the request cannot decide on it")
    if repo.payload_hash(approval["payload"]) != approval["payload_hash"]:
        raise errors.ApprovalTampered(
            "the stored request does not match its hash; it cannot be approved"
        )
    return approval


async def _record(conn: asyncpg.Connection, actor: Actor, trail: Trail, reason: str) -> None:
    fields = {k: v for k, v in vars(trail).items() if k != "action"}
    await audit.record(conn, actor, trail.action, reason=reason, **fields)
