"""Amendments (C5): an inventory change on an active contract is a technician intervention
plus one amendment per active contract, published as ``contract.amended``."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
from prisme_chassis import audit
from prisme_chassis.audit import Actor
from prisme_chassis.bus import enqueue
from prisme_events import Change, ContractAmended, ContractUser

from . import domain
from . import repository as repo
from .facts import (
    asset_views,
    client_snapshot,
    event_id,
    invalid,
)
from .schemas import (
    AmendmentIn,
    ChangeOut,
)

# --- amendments (C5) ---------------------------------------------------------------------


async def record(
    conn: asyncpg.Connection,
    client: asyncpg.Record,
    actor: Actor,
    amend: AmendmentIn,
    today: date,
    *,
    changes: list[Change],
    postes_before: int,
    description: str,
    users_added: list[ContractUser] | None = None,
    users_removed: list[uuid.UUID] | None = None,
) -> ChangeOut:
    """Record the intervention and one amendment per active contract the change applies to.

    The change takes effect on ``effective_date`` (default: today, Indian/Reunion) in the
    contract covering that day, and from its first day in an already-active future contract
    (a renewal). An explicit date no active contract covers is refused.
    """
    contracts = await repo.active_contracts_of_client(conn, client["id"])
    if not contracts:
        return ChangeOut(intervention_id=None, amendments=[])
    day = amend.effective_date or today
    dates = domain.amendment_effective_dates(
        [(c["start_date"], c["end_date"]) for c in contracts], day
    )
    targets = [(c, eff) for c, eff in zip(contracts, dates, strict=True) if eff is not None]
    if amend.effective_date is not None and day not in dates:
        periods = ", ".join(f"{c['start_date']}..{c['end_date']}" for c in contracts)
        raise invalid(
            "effective_date",
            f"date d'effet {day} hors de la période du contrat actif ({periods})",
        )
    if not targets:
        return ChangeOut(intervention_id=None, amendments=[])
    assets = await repo.list_assets(conn, client["id"])
    views = asset_views(assets)
    postes, peripherals = domain.count_postes(views), domain.count_peripherals(views)
    intervention = await repo.insert_intervention(
        conn, client["id"], actor.sub, amend.note or description
    )
    snapshot = client_snapshot(client)
    amendment_ids: list[uuid.UUID] = []
    for contract, effective in targets:
        offer = await repo.get_offer(conn, contract["offer"])
        assert offer is not None
        updated = await repo.bump_version(conn, contract["id"])
        amendment_id = uuid.uuid4()
        await repo.insert_amendment(
            conn,
            {
                "id": amendment_id,
                "contract_id": contract["id"],
                "intervention_id": intervention["id"],
                "effective_date": effective,
                "changes": [c.model_dump(mode="json") for c in changes],
                "postes_before": postes_before,
                "postes_after": postes,
                "version": updated["version"],
            },
        )
        await audit.record(
            conn,
            actor,
            "contract.amended",
            target_type="contract",
            target_id=contract["id"],
            client_id=client["id"],
            before={"version": contract["version"], "postes": postes_before},
            after={
                "version": updated["version"],
                "postes": postes,
                "amendment_id": amendment_id,
                "effective_date": effective,
                "changes": [c.model_dump(mode="json") for c in changes],
            },
        )
        await enqueue(
            conn,
            ContractAmended(
                event_id=event_id(contract["id"], updated["version"]),
                contract_id=contract["id"],
                client_id=client["id"],
                version=updated["version"],
                offer=contract["offer"],
                level=contract["level"],
                includes=list(offer["includes"]),
                year=contract["year"],
                amendment_id=amendment_id,
                intervention_id=intervention["id"],
                effective_date=effective,
                changes=changes,
                postes_before=postes_before,
                postes=postes,
                peripherals=peripherals,
                users_added=users_added or [],
                users_removed=users_removed or [],
                client=snapshot,
            ),
        )
        amendment_ids.append(amendment_id)
    return ChangeOut(intervention_id=intervention["id"], amendments=amendment_ids)


async def postes_of(conn: asyncpg.Connection, client_id: uuid.UUID) -> int:
    return domain.count_postes(asset_views(await repo.list_assets(conn, client_id)))
