"""licence-svc's Graph work as chassis job kinds (L1-L4), and the use cases that ask for it.

A bus handler only enqueues, in its own transaction: one job per account operation, its key
from domain ids (``revoke:{user_id}:{contract_id}``) so a redelivered event adds nothing. The
chassis worker runs them later outside any transaction (``graph_work``), a tenant's ready jobs
together (``group_key``: one ``$batch`` round for many accounts), the jobs of one account one
at a time in the order they were asked (``serial_key``: a revocation queued before a
re-provisioning always runs first), leased, with back-off, then ``dead`` and listed on
``GET /v1/jobs``, where an operator retries it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from prisme_chassis import jobs

#: L1/L2: look the user up, create it with its sealed initial password, assign the licence.
PROVISION = jobs.JobKind(
    "licence.graph_provision", max_attempts=25, backoff_base=1.0, backoff_cap=300.0
)
#: L3: disable sign-in, revoke sessions, remove the licence, soft-delete (one dependsOn chain).
REVOKE = jobs.JobKind("licence.graph_revoke", max_attempts=25, backoff_base=1.0, backoff_cap=300.0)
KINDS = (PROVISION, REVOKE)
OPERATION = {PROVISION.name: "provision", REVOKE.name: "revoke"}


@dataclass(frozen=True)
class AccountRef:
    """What a job needs to be queued: the account, its tenant (the batch group)."""

    account_id: uuid.UUID
    graph_tenant: str


def _job(key: str, acc: AccountRef, step: str) -> jobs.NewJob:
    return jobs.NewJob(
        key,
        {"account_id": str(acc.account_id), "step": step},
        group_key=acc.graph_tenant,
        serial_key=str(acc.account_id),
    )


async def provision(conn: asyncpg.Connection, acc: AccountRef, key: str) -> None:
    """Queue the provisioning of an account (starting by looking the login up in Graph)."""
    await jobs.enqueue_many(conn, PROVISION, [_job(key, acc, "lookup")])


async def revoke(conn: asyncpg.Connection, accounts: Sequence[tuple[AccountRef, str]]) -> int:
    """Queue revocations (account, key) in a few statements whatever their number (P2): a
    provisioning still waiting (e.g. for a seat) is cancelled; one already running finishes
    first, because jobs of one account run in order. Returns how many accounts."""
    if not accounts:
        return 0
    await jobs.cancel(conn, PROVISION, serial_keys=[str(a.account_id) for a, _ in accounts])
    await jobs.enqueue_many(conn, REVOKE, [_job(key, a, "disable") for a, key in accounts])
    return len(accounts)


async def being_revoked(conn: asyncpg.Connection, account_id: uuid.UUID) -> bool:
    """True while a revocation of the account is queued or running."""
    return await jobs.has_open(conn, REVOKE, str(account_id))


async def summary(conn: asyncpg.Connection) -> dict[str, int]:
    """Progress of the Graph work (both kinds): queued (running included), done, failed
    (dead), cancelled."""
    found = await jobs.counts(conn, KINDS)
    s = jobs.JobState
    total = {state: sum(c[state] for c in found.values()) for state in s}
    return {
        "queued": total[s.QUEUED] + total[s.RUNNING],
        "done": total[s.SUCCEEDED],
        "failed": total[s.DEAD],
        "cancelled": total[s.CANCELLED],
    }
