"""Practices and their fixed inventory (C3/C5): clients, users, network, assets, partners.

Changing an asset or a user of a practice with an active contract records a technician
intervention and an amendment per active contract, and publishes ``contract.amended`` (C5).
Changing the network or the assets re-checks eligibility (C4).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
from prisme_chassis.bus import enqueue
from prisme_chassis.errors import Conflict, NotFound, Unprocessable
from prisme_events import Change, ContractAmended, ContractUser

from . import audit, domain, eligibility
from . import repository as repo
from .facts import (
    Actor,
    asset_fact,
    asset_out,
    asset_views,
    client_out,
    client_snapshot,
    contract_user,
    event_id,
    user_out,
)
from .schemas import (
    AmendmentIn,
    AssetChanged,
    ChangeOut,
    ClientOut,
    NetworkIn,
    NetworkOut,
    NewAsset,
    NewClient,
    NewUser,
    Removed,
    UserChanged,
)

# --- clients ------------------------------------------------------------------------------


def _invalid(field: str, detail: str) -> Unprocessable:
    return Unprocessable(detail, errors=[{"field": field, "detail": detail}])


async def create_client(conn: asyncpg.Connection, body: NewClient, actor: Actor) -> ClientOut:
    siren = domain.normalize_siren(body.siren)
    if not domain.siren_is_valid(siren):
        raise _invalid("siren", f"SIREN invalide (9 chiffres avec clé de Luhn) : {body.siren}")
    if not domain.email_is_valid(body.manager.email):
        raise _invalid("manager.email", f"adresse e-mail invalide : {body.manager.email}")
    if not domain.phone_is_valid(body.manager.phone):
        raise _invalid("manager.phone", f"numéro de téléphone invalide : {body.manager.phone}")
    if not domain.postal_code_is_valid(body.address.postal_code):
        raise _invalid(
            "address.postal_code", f"code postal invalide (5 chiffres) : {body.address.postal_code}"
        )
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": body.name,
        "siren": siren,
        "manager_name": body.manager.name,
        "manager_email": body.manager.email,
        "manager_phone": domain.normalize_phone(body.manager.phone),
        "line1": body.address.line1,
        "postal_code": body.address.postal_code,
        "city": body.address.city,
    }
    row = await repo.insert_client(conn, values)
    await audit.record(
        conn,
        actor,
        "client.created",
        entity_type="client",
        entity_id=row["id"],
        client_id=row["id"],
        after=values,
    )
    return client_out(row)


async def _client(
    conn: asyncpg.Connection, client_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record:
    row = await repo.get_client(conn, client_id, lock=lock)
    if row is None:
        raise NotFound(f"client {client_id} not found")
    return row


async def get_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> ClientOut:
    return client_out(await _client(conn, client_id))


async def list_clients(conn: asyncpg.Connection, limit: int, offset: int) -> list[ClientOut]:
    return [client_out(r) for r in await repo.list_clients(conn, limit, offset)]


# --- amendments (C5) ---------------------------------------------------------------------


async def _amend(
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
    targets: list[tuple[asyncpg.Record, date]] = []
    for contract in contracts:
        if domain.within_contract(contract["start_date"], contract["end_date"], day):
            targets.append((contract, day))
        elif contract["start_date"] > day:
            targets.append((contract, contract["start_date"]))
    covered = any(eff == day for _, eff in targets)
    if amend.effective_date is not None and not covered:
        periods = ", ".join(f"{c['start_date']}..{c['end_date']}" for c in contracts)
        raise _invalid(
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
            entity_type="contract",
            entity_id=contract["id"],
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


async def _postes(conn: asyncpg.Connection, client_id: uuid.UUID) -> int:
    return domain.count_postes(asset_views(await repo.list_assets(conn, client_id)))


# --- users --------------------------------------------------------------------------------


def _check_user(body: NewUser) -> None:
    if not domain.email_is_valid(body.email):
        raise _invalid("email", f"adresse e-mail invalide : {body.email}")


async def add_user(
    conn: asyncpg.Connection, client_id: uuid.UUID, body: NewUser, actor: Actor, today: date
) -> UserChanged:
    _check_user(body)
    client = await _client(conn, client_id, lock=True)
    postes = await _postes(conn, client_id)
    values = body.model_dump(include={"first_name", "last_name", "email", "role"})
    try:
        row = await repo.insert_user(conn, {"id": uuid.uuid4(), "client_id": client_id, **values})
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"a user with e-mail {body.email} already exists in this practice") from exc
    await audit.record(
        conn,
        actor,
        "user.added",
        entity_type="user",
        entity_id=row["id"],
        client_id=client_id,
        after=values,
    )
    user = contract_user(row)
    change = await _amend(
        conn,
        client,
        actor,
        body,
        today,
        changes=[Change(target="user", action="added", id=row["id"], user=user)],
        postes_before=postes,
        description=f"Ajout de l'utilisateur {body.first_name} {body.last_name}",
        users_added=[user],
    )
    return UserChanged(**user_out(row).model_dump(), amendment=change)


async def change_user(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    user_id: uuid.UUID,
    body: NewUser,
    actor: Actor,
    today: date,
) -> UserChanged:
    _check_user(body)
    client = await _client(conn, client_id, lock=True)
    before = await repo.get_user(conn, client_id, user_id)
    if before is None:
        raise NotFound(f"user {user_id} not found in client {client_id}")
    postes = await _postes(conn, client_id)
    values = body.model_dump(include={"first_name", "last_name", "email", "role"})
    try:
        row = await repo.update_user(conn, user_id, values)
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"a user with e-mail {body.email} already exists in this practice") from exc
    await audit.record(
        conn,
        actor,
        "user.changed",
        entity_type="user",
        entity_id=user_id,
        client_id=client_id,
        before=repo.record(before, list(values)),
        after=values,
    )
    user = contract_user(row)
    change = await _amend(
        conn,
        client,
        actor,
        body,
        today,
        changes=[Change(target="user", action="changed", id=user_id, user=user)],
        postes_before=postes,
        description=f"Modification de l'utilisateur {body.first_name} {body.last_name}",
    )
    return UserChanged(**user_out(row).model_dump(), amendment=change)


async def remove_user(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    user_id: uuid.UUID,
    amend: AmendmentIn,
    actor: Actor,
    today: date,
) -> Removed:
    client = await _client(conn, client_id, lock=True)
    before = await repo.get_user(conn, client_id, user_id)
    if before is None:
        raise NotFound(f"user {user_id} not found in client {client_id}")
    postes = await _postes(conn, client_id)
    await repo.remove_user(conn, user_id)
    await audit.record(
        conn,
        actor,
        "user.removed",
        entity_type="user",
        entity_id=user_id,
        client_id=client_id,
        before=dict(before),
    )
    change = await _amend(
        conn,
        client,
        actor,
        amend,
        today,
        changes=[Change(target="user", action="removed", id=user_id, user=contract_user(before))],
        postes_before=postes,
        description=f"Retrait de l'utilisateur {before['first_name']} {before['last_name']}",
        users_removed=[user_id],
    )
    return Removed(id=user_id, removed=True, amendment=change)


async def list_users(conn: asyncpg.Connection, client_id: uuid.UUID) -> list[Any]:
    await _client(conn, client_id)
    return [user_out(r) for r in await repo.list_users(conn, client_id)]


# --- network --------------------------------------------------------------------------------


async def put_network(
    conn: asyncpg.Connection, client_id: uuid.UUID, body: NetworkIn, actor: Actor
) -> NetworkOut:
    await _client(conn, client_id, lock=True)
    before = await repo.get_network(conn, client_id)
    row = await repo.upsert_network(
        conn, client_id, body.lan_count, body.download_mbps, body.upload_mbps
    )
    await audit.record(
        conn,
        actor,
        "network.set",
        entity_type="network",
        entity_id=client_id,
        client_id=client_id,
        before=None
        if before is None
        else repo.record(before, ["lan_count", "download_mbps", "upload_mbps"]),
        after=body.model_dump(),
    )
    await eligibility.recheck(conn, client_id, actor)
    return NetworkOut.model_validate(dict(row))


async def get_network(conn: asyncpg.Connection, client_id: uuid.UUID) -> NetworkOut:
    await _client(conn, client_id)
    row = await repo.get_network(conn, client_id)
    if row is None:
        raise NotFound(f"the network of client {client_id} is not declared")
    return NetworkOut.model_validate(dict(row))


# --- assets ---------------------------------------------------------------------------------


def _asset_values(body: NewAsset) -> dict[str, Any]:
    if body.partner is not None and body.supplied_by != "partner":
        raise _invalid("partner", "un partenaire ne se précise que pour supplied_by=partner")
    return body.model_dump(
        include={"name", "function", "kind", "form", "os", "supplied_by", "partner"}
    )


async def add_asset(
    conn: asyncpg.Connection, client_id: uuid.UUID, body: NewAsset, actor: Actor, today: date
) -> AssetChanged:
    values = _asset_values(body)
    client = await _client(conn, client_id, lock=True)
    postes = await _postes(conn, client_id)
    try:
        row = await repo.insert_asset(conn, {"id": uuid.uuid4(), "client_id": client_id, **values})
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"an asset named {body.name!r} already exists in this practice") from exc
    await audit.record(
        conn,
        actor,
        "asset.added",
        entity_type="asset",
        entity_id=row["id"],
        client_id=client_id,
        after=values,
    )
    change = await _amend(
        conn,
        client,
        actor,
        body,
        today,
        changes=[Change(target="asset", action="added", id=row["id"], asset=asset_fact(row))],
        postes_before=postes,
        description=f"Ajout de l'équipement {body.name} ({body.kind})",
    )
    await eligibility.recheck(conn, client_id, actor)
    return AssetChanged(**asset_out(row).model_dump(), amendment=change)


async def change_asset(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    asset_id: uuid.UUID,
    body: NewAsset,
    actor: Actor,
    today: date,
) -> AssetChanged:
    values = _asset_values(body)
    client = await _client(conn, client_id, lock=True)
    before = await repo.get_asset(conn, client_id, asset_id)
    if before is None:
        raise NotFound(f"asset {asset_id} not found in client {client_id}")
    postes = await _postes(conn, client_id)
    try:
        row = await repo.update_asset(conn, asset_id, values)
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"an asset named {body.name!r} already exists in this practice") from exc
    await audit.record(
        conn,
        actor,
        "asset.changed",
        entity_type="asset",
        entity_id=asset_id,
        client_id=client_id,
        before=repo.record(before, list(values)),
        after=values,
    )
    change = await _amend(
        conn,
        client,
        actor,
        body,
        today,
        changes=[Change(target="asset", action="changed", id=asset_id, asset=asset_fact(row))],
        postes_before=postes,
        description=f"Modification de l'équipement {body.name}",
    )
    await eligibility.recheck(conn, client_id, actor)
    return AssetChanged(**asset_out(row).model_dump(), amendment=change)


async def remove_asset(
    conn: asyncpg.Connection,
    client_id: uuid.UUID,
    asset_id: uuid.UUID,
    amend: AmendmentIn,
    actor: Actor,
    today: date,
) -> Removed:
    client = await _client(conn, client_id, lock=True)
    before = await repo.get_asset(conn, client_id, asset_id)
    if before is None:
        raise NotFound(f"asset {asset_id} not found in client {client_id}")
    postes = await _postes(conn, client_id)
    await repo.remove_asset(conn, asset_id)
    await audit.record(
        conn,
        actor,
        "asset.removed",
        entity_type="asset",
        entity_id=asset_id,
        client_id=client_id,
        before=dict(before),
    )
    change = await _amend(
        conn,
        client,
        actor,
        amend,
        today,
        changes=[Change(target="asset", action="removed", id=asset_id, asset=asset_fact(before))],
        postes_before=postes,
        description=f"Retrait de l'équipement {before['name']}",
    )
    await eligibility.recheck(conn, client_id, actor)
    return Removed(id=asset_id, removed=True, amendment=change)


async def list_assets(conn: asyncpg.Connection, client_id: uuid.UUID) -> list[Any]:
    await _client(conn, client_id)
    return [asset_out(r) for r in await repo.list_assets(conn, client_id)]


# --- partners -------------------------------------------------------------------------------


async def list_partners(conn: asyncpg.Connection) -> list[str]:
    return await repo.list_partners(conn)


async def add_partner(conn: asyncpg.Connection, name: str, actor: Actor) -> None:
    if not await repo.insert_partner(conn, name, actor.sub):
        raise Conflict(f"partner {name!r} is already listed")
    await audit.record(
        conn,
        actor,
        "partner.added",
        entity_type="partner",
        entity_id=None,
        client_id=None,
        after={"name": name},
    )
    for client_id in await repo.clients_with_partner_assets(conn, name):
        await eligibility.recheck(conn, client_id, actor)


async def remove_partner(conn: asyncpg.Connection, name: str, actor: Actor) -> None:
    if not await repo.delete_partner(conn, name):
        raise NotFound(f"partner {name!r} is not listed")
    await audit.record(
        conn,
        actor,
        "partner.removed",
        entity_type="partner",
        entity_id=None,
        client_id=None,
        before={"name": name},
    )
    for client_id in await repo.clients_with_partner_assets(conn, name):
        await eligibility.recheck(conn, client_id, actor)
