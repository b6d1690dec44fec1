"""Eligibility use cases (C3/C4): evaluate, override, re-check active contracts."""

from __future__ import annotations

import uuid

import asyncpg
from prisme_chassis.bus import enqueue
from prisme_chassis.errors import Conflict, NotFound
from prisme_events import ContractEligibilityChanged, EligibilityFailure

from . import audit, domain
from . import repository as repo
from .facts import Actor, asset_views, event_id
from .schemas import EligibilityOut, FailureOut, OverrideOut


async def evaluate(
    conn: asyncpg.Connection, client_id: uuid.UUID
) -> tuple[domain.Eligibility, asyncpg.Record | None]:
    """The client's eligibility as it stands, and its active override if any."""
    client = await repo.get_client(conn, client_id)
    if client is None:
        raise NotFound(f"client {client_id} not found")
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
    return result, await repo.get_override(conn, client_id)


def to_out(result: domain.Eligibility, override: asyncpg.Record | None) -> EligibilityOut:
    return EligibilityOut(
        eligible=result.eligible or override is not None,
        criteria_met=result.eligible,
        failures=[FailureOut(criterion=f.criterion, detail=f.detail) for f in result.failures],
        overridden=override is not None,
        override=None if override is None else OverrideOut.model_validate(dict(override)),
    )


async def get(conn: asyncpg.Connection, client_id: uuid.UUID) -> EligibilityOut:
    return to_out(*await evaluate(conn, client_id))


async def recheck(conn: asyncpg.Connection, client_id: uuid.UUID, actor: Actor) -> EligibilityOut:
    """C4: flag (or un-flag) the client's active contracts as non-conforming.

    Publishes ``contract.eligibility_changed`` for each active contract whose conformity
    changed. Never ends a contract, never refunds it.
    """
    result, override = await evaluate(conn, client_id)
    non_conforming = domain.is_non_conforming(result, override is not None)
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
            entity_type="contract",
            entity_id=contract["id"],
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
                overridden=override is not None,
            ),
        )
    return to_out(result, override)


async def record_override(
    conn: asyncpg.Connection, client_id: uuid.UUID, reason: str, actor: Actor
) -> EligibilityOut:
    """C3: an operator's explicit, audited override. One active override per client."""
    if await repo.get_client(conn, client_id, lock=True) is None:
        raise NotFound(f"client {client_id} not found")
    if await repo.get_override(conn, client_id) is not None:
        raise Conflict("an eligibility override is already recorded for this client")
    row = await repo.insert_override(conn, client_id, reason, actor.sub)
    await audit.record(
        conn,
        actor,
        "eligibility.override_recorded",
        entity_type="eligibility_override",
        entity_id=row["id"],
        client_id=client_id,
        after={"reason": reason},
    )
    return await recheck(conn, client_id, actor)


async def revoke_override(
    conn: asyncpg.Connection, client_id: uuid.UUID, actor: Actor
) -> EligibilityOut:
    if await repo.get_client(conn, client_id, lock=True) is None:
        raise NotFound(f"client {client_id} not found")
    override = await repo.get_override(conn, client_id)
    if override is None:
        raise NotFound("no eligibility override is recorded for this client")
    await repo.revoke_override(conn, override["id"], actor.sub)
    await audit.record(
        conn,
        actor,
        "eligibility.override_revoked",
        entity_type="eligibility_override",
        entity_id=override["id"],
        client_id=client_id,
        before={"reason": override["reason"]},
    )
    return await recheck(conn, client_id, actor)
