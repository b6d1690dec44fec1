"""Eligibility use cases (C3/C4): evaluate, override, re-check active contracts."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from prisme_chassis import audit
from prisme_chassis.audit import Actor
from prisme_chassis.bus import enqueue
from prisme_events import ContractEligibilityChanged, EligibilityFailure

from . import domain
from . import repository as repo
from .errors import (
    ClientNotFound,
    OverrideExists,
    OverrideExpiryPassed,
    OverrideNotFound,
    OverrideNotNeeded,
)
from .facts import asset_views, event_id
from .schemas import EligibilityOut, FailureOut, OverrideOut


async def evaluate(
    conn: asyncpg.Connection, client_id: uuid.UUID, now: datetime | None = None
) -> tuple[domain.Eligibility, list[asyncpg.Record]]:
    """The client's eligibility as it stands, and the overrides in force (one per criterion)."""
    client = await repo.get_client(conn, client_id)
    if client is None:
        raise ClientNotFound(f"client {client_id} not found")
    network = await repo.get_network(conn, client_id)
    result = domain.evaluate_eligibility(
        postal_code=client["postal_code"],
        network=None
        if network is None
        else domain.NetworkView(
            network["lan_count"], network["download_mbps"], network["upload_mbps"]
        ),
        assets=asset_views(await repo.list_assets(conn, client_id)),
        partners=await repo.list_partners(conn),
    )
    return result, await repo.active_overrides(conn, client_id, now)


def covered(overrides: list[asyncpg.Record]) -> set[str]:
    return {o["criterion"] for o in overrides}


def to_out(result: domain.Eligibility, overrides: list[asyncpg.Record]) -> EligibilityOut:
    used = covered(overrides)
    return EligibilityOut(
        eligible=not domain.uncovered(result, used),
        criteria_met=result.eligible,
        failures=[FailureOut(criterion=f.criterion, detail=f.detail) for f in result.failures],
        overridden=any(f.criterion in used for f in result.failures),
        overrides=[
            OverrideOut(
                id=o["id"],
                criterion=o["criterion"],
                reason=o["reason"],
                created_by=o["created_by"],
                created_at=o["created_at"],
                expires_at=o["expires_at"],
            )
            for o in overrides
        ],
    )


async def get(conn: asyncpg.Connection, client_id: uuid.UUID) -> EligibilityOut:
    return to_out(*await evaluate(conn, client_id))


async def recheck(conn: asyncpg.Connection, client_id: uuid.UUID, actor: Actor) -> EligibilityOut:
    """C4: flag (or un-flag) the client's active contracts as non-conforming.

    Publishes ``contract.eligibility_changed`` for each active contract whose conformity
    changed. Never ends a contract, never refunds it.
    """
    result, overrides = await evaluate(conn, client_id)
    used = covered(overrides)
    non_conforming = domain.is_non_conforming(result, used)
    for contract in await repo.active_contracts_of_client(conn, client_id):
        if contract["non_conforming"] == non_conforming:
            continue
        offer = await repo.get_offer(conn, contract["offer"])
        assert offer is not None
        updated = await repo.set_contract_state(conn, contract["id"], non_conforming=non_conforming)
        await audit.record(
            conn,
            actor,
            "contract.eligibility_changed",
            target_type="contract",
            target_id=contract["id"],
            client_id=client_id,
            before={"non_conforming": contract["non_conforming"], "version": contract["version"]},
            after={
                "non_conforming": non_conforming,
                "version": updated["version"],
                "failures": [f.criterion for f in result.failures],
            },
        )
        await enqueue(
            conn,
            ContractEligibilityChanged(
                event_id=event_id(updated["id"], updated["version"]),
                contract_id=updated["id"],
                client_id=client_id,
                version=updated["version"],
                offer=updated["offer"],
                includes=list(offer["includes"]),
                year=updated["year"],
                eligible=result.eligible,
                non_conforming=non_conforming,
                failures=[
                    EligibilityFailure(criterion=f.criterion, detail=f.detail)
                    for f in result.failures
                ],
                overridden=any(f.criterion in used for f in result.failures),
            ),
        )
    return to_out(result, overrides)


async def record_override(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    criterion: str,
    reason: str,
    expires_at: datetime | None,
    actor: Actor,
    now: datetime,
) -> EligibilityOut:
    """C3: an operator's explicit, audited override of one failed criterion, with a reason
    and an optional expiry. A criterion that passes needs none; another criterion failing
    later is not hidden by it."""
    if await repo.get_client(conn, client_id, lock=True) is None:
        raise ClientNotFound(f"client {client_id} not found")
    if expires_at is not None and expires_at <= now:
        raise OverrideExpiryPassed(
            "la date d'expiration de la dérogation est déjà passée",
            errors=[{"field": "expires_at", "detail": "must be in the future"}],
        )
    result, _ = await evaluate(conn, client_id)
    if criterion not in {f.criterion for f in result.failures}:
        raise OverrideNotNeeded(
            f"le critère {criterion} est respecté : aucune dérogation n'est nécessaire",
            criterion=criterion,
        )
    if await repo.get_override(conn, client_id, criterion) is not None:
        raise OverrideExists(
            f"une dérogation est déjà enregistrée pour le critère {criterion}", criterion=criterion
        )
    row = await repo.insert_override(conn, client_id, criterion, reason, expires_at, actor.sub)
    await audit.record(
        conn,
        actor,
        "eligibility.override_recorded",
        target_type="eligibility_override",
        target_id=row["id"],
        client_id=client_id,
        after={
            "criterion": criterion,
            "reason": reason,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return await recheck(conn, client_id, actor)


async def revoke_override(
    conn: asyncpg.Connection, client_id: uuid.UUID, criterion: str, actor: Actor
) -> EligibilityOut:
    if await repo.get_client(conn, client_id, lock=True) is None:
        raise ClientNotFound(f"client {client_id} not found")
    override = await repo.get_override(conn, client_id, criterion)
    if override is None:
        raise OverrideNotFound(f"aucune dérogation en vigueur pour le critère {criterion}")
    await repo.revoke_override(conn, override["id"], actor.sub)
    await audit.record(
        conn,
        actor,
        "eligibility.override_revoked",
        target_type="eligibility_override",
        target_id=override["id"],
        client_id=client_id,
        before={"criterion": criterion, "reason": override["reason"]},
    )
    return await recheck(conn, client_id, actor)


EXPIRY = Actor.system("override-expiry")


async def lapse_expired(conn: asyncpg.Connection, now: datetime) -> int:
    """C3/C4: overrides past their expiry stop covering their criterion; the practices'
    active contracts are re-checked (and flagged non-conforming if that criterion fails)."""
    lapsed = await repo.lapse_expired_overrides(conn, now)
    for row in lapsed:
        await audit.record(
            conn,
            EXPIRY,
            "eligibility.override_expired",
            target_type="eligibility_override",
            target_id=row["id"],
            client_id=row["client_id"],
            before={"criterion": row["criterion"]},
        )
    for client_id in sorted({r["client_id"] for r in lapsed}):
        await recheck(conn, client_id, EXPIRY)
    return len(lapsed)
