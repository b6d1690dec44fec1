"""Use cases of licence-svc: tenant mapping, reacting to contracts (L1-L3), credentials.

No SQL and no HTTP here; the edge (route or bus handler) owns the transaction. Graph work is
only queued here (``graph_jobs``, on the chassis job queue); ``graph_work`` does it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from prisme_chassis import audit, clock, pagination
from prisme_chassis.year_end import YearEndEffects
from prisme_events import (
    ContractActivated,
    ContractAmended,
    ContractCancelled,
    ContractEnded,
    ContractEvent,
    ContractUser,
)
from prisme_events.projection import ContractProjection, project

from . import domain
from . import graph_jobs as gj
from . import repository as repo
from .errors import AccountNotFound, AccountNotProvisioned
from .passwords import PasswordSealer
from .settings import LicenceSettings

Conn = asyncpg.Connection


@dataclass(frozen=True)
class TenantRef:
    graph_tenant: str
    domain: str
    sku: str


async def set_tenant(
    conn: Conn, client_id: uuid.UUID, graph_tenant: str, upn_domain: str, sku: str
) -> dict[str, Any]:
    return dict(
        await repo.upsert_tenant(conn, client_id, graph_tenant.lower(), upn_domain.lower(), sku)
    )


async def tenant_of(conn: Conn, settings: LicenceSettings, client_id: uuid.UUID) -> TenantRef:
    """The practice's own tenant when mapped, else the provider's (with its verified domain)."""
    row = await repo.get_tenant(conn, client_id)
    if row is None:
        return TenantRef(
            settings.default_tenant.lower(), settings.default_domain.lower(), settings.default_sku
        )
    return TenantRef(row["graph_tenant"], row["domain"], row["sku_part_number"])


async def _ensure_account(
    conn: Conn,
    tenant: TenantRef,
    client_id: uuid.UUID,
    contract_id: uuid.UUID,
    version: int,
    user: ContractUser,
    key: str,
    trail: _Trail,
) -> None:
    acc = await repo.account_by_user(conn, user.user_id)
    if acc is None:
        local = domain.upn_local_part(user.first_name, user.last_name)
        taken = await repo.upns_like(conn, tenant.graph_tenant, local)
        upn = domain.unique_upn(user.first_name, user.last_name, tenant.domain, taken)
        account_id = uuid.uuid4()
        await repo.insert_account(
            conn,
            account_id=account_id,
            client_id=client_id,
            contract_id=contract_id,
            attached_version=version,
            user_id=user.user_id,
            graph_tenant=tenant.graph_tenant,
            upn=upn,
            first_name=user.first_name,
            last_name=user.last_name,
            sku=tenant.sku,
        )
        await gj.provision(conn, gj.AccountRef(account_id, tenant.graph_tenant), key)
        trail.account("account.created", account_id, client_id, contract_id, upn)
        return
    being_revoked = await gj.being_revoked(conn, acc["id"])
    if acc["status"] in ("pending", "active") and not being_revoked:
        # Same user, next contract: the account carries on untouched (L3, stable user_id).
        await repo.attach_account(conn, acc["id"], contract_id, version)
        if acc["contract_id"] != contract_id:
            trail.account("account.carried_over", acc["id"], client_id, contract_id, acc["upn"])
        return
    await repo.attach_account(conn, acc["id"], contract_id, version, status="pending")
    # Queued after any revocation of the account, so it runs after it (serial per account).
    await gj.provision(conn, gj.AccountRef(acc["id"], acc["graph_tenant"]), key)
    trail.account("account.reprovisioning_queued", acc["id"], client_id, contract_id, acc["upn"])


@dataclass
class _Trail:
    """O3 rows of one handler call, written together at its end (one statement, however many
    users the event names: no round trip per account)."""

    by: audit.Actor
    rows: list[dict[str, Any]]

    def account(
        self,
        action: str,
        account_id: uuid.UUID,
        client_id: uuid.UUID,
        contract_id: uuid.UUID,
        upn: str,
    ) -> None:
        self.rows.append(
            audit.row(
                self.by,
                action,
                target_type="account",
                target_id=account_id,
                client_id=client_id,
                detail={"upn": upn, "contract_id": contract_id},
            )
        )

    async def write(self, conn: Conn) -> None:
        await audit.record_many(conn, self.rows)


def _trail(e: ContractEvent) -> _Trail:
    return _Trail(audit.Actor.event(e), [])


async def _revoke(conn: Conn, acc: asyncpg.Record, key: str, trail: _Trail) -> None:
    await gj.revoke(conn, [(gj.AccountRef(acc["id"], acc["graph_tenant"]), key)])
    trail.account(
        "account.revocation_queued", acc["id"], acc["client_id"], acc["contract_id"], acc["upn"]
    )


async def _revoke_contracts(
    conn: Conn, contract_ids: list[uuid.UUID], by: dict[uuid.UUID, audit.Actor]
) -> int:
    """L3 for every live account of these contracts, in a few statements whatever their
    number (year-end volume, P2); job keys come from domain ids so a redelivered event adds
    nothing. O3: one audit row per account, by the event that ended its contract
    (``by[contract_id]``), all in one statement."""
    if not contract_ids:
        return 0
    accounts = await repo.live_accounts_of_contracts(conn, contract_ids)
    await audit.record_many(
        conn,
        [
            audit.row(
                by[a["contract_id"]],
                "account.revocation_queued",
                target_type="account",
                target_id=a["id"],
                client_id=a["client_id"],
                detail={"upn": a["upn"], "contract_id": a["contract_id"]},
            )
            for a in accounts
        ],
    )
    return await gj.revoke(
        conn,
        [
            (
                gj.AccountRef(a["id"], a["graph_tenant"]),
                f"revoke:{a['user_id']}:{a['contract_id']}",
            )
            for a in accounts
        ],
    )


async def _revoke_contract(conn: Conn, contract_id: uuid.UUID, by: audit.Actor) -> int:
    return await _revoke_contracts(conn, [contract_id], {contract_id: by})


async def _project(conn: Conn, e: ContractEvent) -> ContractProjection:
    """Read the stored contract, project the event (prisme_events.projection), write it back.
    The state after the event (unchanged for a duplicate or stale event)."""
    row = await repo.locked_contract(conn, e.contract_id)
    stored = None
    if row is not None:
        stored = ContractProjection.from_stored(
            row["contract_id"],
            row["client_id"],
            row["version"],
            row["status"],
            year=row["year"],
            includes=(domain.MICROSOFT_365,) if row["includes_m365"] else (),
        )
    projected = project(stored, e)
    if projected is None:
        assert stored is not None
        return stored
    assert projected.year is not None  # every event carries it
    await repo.save_contract(
        conn,
        projected.contract_id,
        projected.client_id,
        projected.year,
        domain.includes_microsoft_365(projected.includes),
        projected.status,
        projected.version,
    )
    return projected


async def contract_activated(conn: Conn, settings: LicenceSettings, e: ContractActivated) -> None:
    """L1: every user of a contract that includes Microsoft 365 gets an account."""
    state = await _project(conn, e)
    if state.is_terminal:
        return  # contract.ended arrived first: nothing to provision any more
    if not domain.includes_microsoft_365(e.includes):
        return
    tenant = await tenant_of(conn, settings, e.client_id)
    trail = _trail(e)
    listed = {u.user_id for u in e.users}
    # An amendment newer than this activation already removed some users (reordering).
    removed = await repo.removed_after(conn, e.contract_id, e.version)
    for user in e.users:
        if user.user_id in removed:
            continue
        acc = await repo.account_by_user(conn, user.user_id)
        if (
            acc is not None
            and acc["contract_id"] == e.contract_id
            and acc["attached_version"] > e.version
        ):
            continue  # a newer amendment already decided about this user
        await _ensure_account(
            conn,
            tenant,
            e.client_id,
            e.contract_id,
            e.version,
            user,
            key=f"provision:{user.user_id}:{e.contract_id}",
            trail=trail,
        )
    # Accounts carried over from last year (attached_version 0) whose user left the practice.
    for acc in await repo.accounts_of_contract(conn, e.contract_id):
        if (
            acc["user_id"] not in listed
            and acc["attached_version"] < e.version
            and acc["status"] in ("pending", "active")
        ):
            await _revoke(
                conn,
                acc,
                key=f"revoke:{acc['user_id']}:{e.contract_id}:not-renewed",
                trail=trail,
            )
    await trail.write(conn)


async def contract_amended(conn: Conn, settings: LicenceSettings, e: ContractAmended) -> None:
    """L2: users added by an amendment are provisioned, users removed are revoked."""
    if not domain.includes_microsoft_365(e.includes):
        return
    state = await _project(conn, e)
    if state.is_terminal:
        return
    tenant = await tenant_of(conn, settings, e.client_id)
    trail = _trail(e)
    for user in e.users_added:
        await _ensure_account(
            conn,
            tenant,
            e.client_id,
            e.contract_id,
            e.version,
            user,
            key=f"provision:{user.user_id}:{e.amendment_id}",
            trail=trail,
        )
    for user_id in e.users_removed:
        await repo.record_removal(conn, e.contract_id, user_id, e.version)
        acc = await repo.account_by_user(conn, user_id)
        if acc is not None and acc["contract_id"] == e.contract_id and acc["status"] != "revoked":
            await repo.attach_account(conn, acc["id"], e.contract_id, e.version)
            await _revoke(conn, acc, key=f"revoke:{user_id}:{e.amendment_id}", trail=trail)
    await trail.write(conn)


async def contracts_ended(conn: Conn, events: Sequence[ContractEnded]) -> None:
    """L3: licences stop when a contract ends, unless next year's contract brings Microsoft 365.

    Set-based (P2: 10,000 ``contract.ended`` at year-end): the contracts are locked, projected
    and saved together, and the revocations of all their accounts queued in a few statements.
    """
    ids = sorted({e.contract_id for e in events})
    stored = await repo.locked_contracts(conn, ids)
    states: dict[uuid.UUID, ContractProjection] = {}
    for cid, row in stored.items():
        states[cid] = ContractProjection.from_stored(
            row["contract_id"],
            row["client_id"],
            row["version"],
            row["status"],
            year=row["year"],
            includes=(domain.MICROSOFT_365,) if row["includes_m365"] else (),
        )
    changed: dict[uuid.UUID, ContractProjection] = {}
    for e in sorted(events, key=lambda ev: ev.version):
        projected = project(states.get(e.contract_id), e)
        if projected is not None:
            states[e.contract_id] = changed[e.contract_id] = projected
    rows = []
    for p in changed.values():
        assert p.year is not None  # every event carries it
        rows.append(
            (
                p.contract_id,
                p.client_id,
                p.year,
                domain.includes_microsoft_365(p.includes),
                p.status,
                p.version,
            )
        )
    await repo.save_contracts(conn, rows)
    revoke: list[uuid.UUID] = []
    for e in events:
        if domain.carries_over(e.renewal_contract_id, e.renewal_includes):
            assert e.renewal_contract_id is not None
            renewal = await repo.get_contract(conn, e.renewal_contract_id)
            if renewal is None:
                # Renewal not activated here yet: hand the accounts over; its activation will
                # revoke those whose user is no longer listed.
                moved = await repo.move_accounts(conn, e.contract_id, e.renewal_contract_id)
                if moved:
                    await audit.record(
                        conn,
                        audit.Actor.event(e),
                        "accounts.handed_over",
                        target_type="contract",
                        target_id=e.contract_id,
                        client_id=e.client_id,
                        detail={"renewal_contract_id": e.renewal_contract_id, "accounts": moved},
                    )
                continue
            # Renewal already activated: its users were re-attached then; the rest leave. A
            # renewal cancelled before this arrived (reordering): nothing carries over.
        revoke.append(e.contract_id)
    by = {e.contract_id: audit.Actor.event(e) for e in events}
    await _revoke_contracts(conn, sorted(set(revoke)), by)


async def contract_cancelled(conn: Conn, e: ContractCancelled) -> None:
    """C8/L3: a renewal draft that is cancelled, or expires unactivated, was counted as signed
    for the carry-over; the accounts handed over to it stop now, in the L3 order."""
    await _project(conn, e)
    await _revoke_contract(conn, e.contract_id, audit.Actor.event(e))


def account_key(row: dict[str, Any]) -> tuple[object, ...]:
    """The sort key of an account in its list, as its cursor holds it."""
    return row["client_id"], pagination.text_part(row["upn"]), row["id"]


async def list_accounts(
    conn: Conn,
    client_id: uuid.UUID | None,
    contract_id: uuid.UUID | None,
    *,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
) -> list[dict[str, Any]]:
    """``limit`` accounts by practice then UPN after ``cursor`` (the list's page, plus one)."""
    after = pagination.decode(cursor, uuid.UUID, pagination.text, uuid.UUID)
    rows = await repo.list_accounts(
        conn, client_id, contract_id, limit=limit, after=after, status=status
    )
    return [dict(r) for r in rows]


async def account_counts(conn: Conn, client_id: uuid.UUID | None) -> dict[str, dict[str, int]]:
    """Accounts per SKU then status (``{"O365_BUSINESS": {"active": 12, "pending": 1}}``)."""
    found: dict[str, dict[str, int]] = {}
    for r in await repo.account_counts(conn, client_id):
        found.setdefault(r["sku"], {})[r["status"]] = r["n"]
    return found


async def list_alerts(
    conn: Conn, *, limit: int, cursor: str | None = None, client_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """``limit`` accounts with an alert, oldest change first, after ``cursor``."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    rows = await repo.list_alerts(conn, limit=limit, after=after, client_id=client_id)
    return [dict(r) for r in rows]


@dataclass(frozen=True)
class Credentials:
    """What asking for the initial password gives: the password, or why there is none
    (``gone``: ``read`` or ``expired``). A refusal is a value, not an exception, because it
    may come with a write (destroying an expired password) that must be committed."""

    account: dict[str, Any]
    password: str | None = None
    gone: str | None = None
    #: this call destroyed the expired password (O3: the caller audits it)
    destroyed: bool = False


async def get_account(conn: Conn, account_id: uuid.UUID) -> dict[str, Any]:
    acc = await repo.get_account(conn, account_id)
    if acc is None:
        raise AccountNotFound(f"no account {account_id}")
    return dict(acc)


async def read_credentials(conn: Conn, vault: PasswordSealer, account_id: uuid.UUID) -> Credentials:
    """L1: the initial password, once. Deleted in the same transaction as it is read; an
    expired one is destroyed in this transaction too, which the caller commits (then 410)."""
    acc = await repo.get_account(conn, account_id, lock=True)
    if acc is None:
        raise AccountNotFound(f"no account {account_id}")
    if acc["credential_state"] in ("read", "expired"):
        return Credentials(dict(acc), gone=acc["credential_state"])
    if acc["status"] != "active":
        raise AccountNotProvisioned(
            "the account is not provisioned yet", status_of_account=acc["status"]
        )
    row = await repo.take_credential(conn, account_id, clock.now())
    if row is None:
        await repo.destroy_credential(conn, account_id, "expired")
        return Credentials(dict(acc), gone="expired", destroyed=True)
    await repo.set_account_state(conn, account_id, credential_state="read")
    return Credentials(dict(acc), password=vault.open(account_id, row["nonce"], row["ciphertext"]))


async def job_summary(conn: Conn) -> dict[str, int]:
    return await gj.summary(conn)


async def year_end_effects(conn: Conn, year: int) -> YearEndEffects:
    """L3 at the year-end (issue 12): the accounts of the year's ended contracts, revoked or
    not yet."""
    row = await repo.year_end_effects(conn, year)
    return YearEndEffects(year=year, unit="accounts", **dict(row))
