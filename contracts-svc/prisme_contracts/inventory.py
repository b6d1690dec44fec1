"""The fixed inventory of a practice (C5): its users and its assets.

Changing an asset or a user of a practice with an active contract records a technician
intervention and an amendment per active contract, and publishes ``contract.amended`` (C5).
Changing the assets re-checks eligibility (C4).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg
from prisme_chassis import audit, pagination
from prisme_chassis.audit import Actor
from prisme_events import Change

from . import amendments, clients, domain, eligibility
from . import repository as repo
from .errors import AssetNameTaken, AssetNotFound, UserEmailTaken, UserNotFound
from .facts import (
    asset_fact,
    asset_out,
    contract_user,
    invalid,
    user_out,
)
from .schemas import (
    AmendmentIn,
    AssetChanged,
    AssetOut,
    NewAsset,
    NewUser,
    Removed,
    UserChanged,
    UserOut,
)

# --- users --------------------------------------------------------------------------------


def _check_user(body: NewUser) -> None:
    if not domain.email_is_valid(body.email):
        raise invalid("email", f"adresse e-mail invalide : {body.email}")


async def add_user(
    conn: asyncpg.Connection, client_id: uuid.UUID, body: NewUser, actor: Actor, today: date
) -> UserChanged:
    _check_user(body)
    client = await clients.client_row(conn, client_id, lock=True)
    postes = await amendments.postes_of(conn, client_id)
    values = body.model_dump(include={"first_name", "last_name", "email", "role"})
    try:
        row = await repo.insert_user(conn, {"id": uuid.uuid4(), "client_id": client_id, **values})
    except asyncpg.UniqueViolationError as exc:
        raise UserEmailTaken(
            f"a user with e-mail {body.email} already exists in this practice"
        ) from exc
    await audit.record(
        conn,
        actor,
        "user.added",
        target_type="user",
        target_id=row["id"],
        client_id=client_id,
        after=values,
    )
    user = contract_user(row)
    change = await amendments.record(
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
    client = await clients.client_row(conn, client_id, lock=True)
    before = await repo.get_user(conn, client_id, user_id)
    if before is None:
        raise UserNotFound(f"user {user_id} not found in client {client_id}")
    postes = await amendments.postes_of(conn, client_id)
    values = body.model_dump(include={"first_name", "last_name", "email", "role"})
    try:
        row = await repo.update_user(conn, user_id, values)
    except asyncpg.UniqueViolationError as exc:
        raise UserEmailTaken(
            f"a user with e-mail {body.email} already exists in this practice"
        ) from exc
    await audit.record(
        conn,
        actor,
        "user.changed",
        target_type="user",
        target_id=user_id,
        client_id=client_id,
        before=repo.record(before, list(values)),
        after=values,
    )
    user = contract_user(row)
    change = await amendments.record(
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
    client = await clients.client_row(conn, client_id, lock=True)
    before = await repo.get_user(conn, client_id, user_id)
    if before is None:
        raise UserNotFound(f"user {user_id} not found in client {client_id}")
    postes = await amendments.postes_of(conn, client_id)
    await repo.remove_user(conn, user_id)
    await audit.record(
        conn,
        actor,
        "user.removed",
        target_type="user",
        target_id=user_id,
        client_id=client_id,
        before=dict(before),
    )
    change = await amendments.record(
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


async def list_users(
    conn: asyncpg.Connection, client_id: uuid.UUID, *, limit: int, cursor: str | None
) -> pagination.Page[UserOut]:
    """The practice's current users, a page at a time in the order they were added."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    await clients.client_row(conn, client_id)
    rows = await repo.list_users(conn, client_id, after=after, limit=limit + 1)
    return pagination.Page[UserOut].of(
        rows, limit, key=lambda r: (r["created_at"], r["id"]), out=user_out
    )


# --- assets ---------------------------------------------------------------------------------


def _asset_values(body: NewAsset) -> dict[str, Any]:
    if body.partner is not None and body.supplied_by != "partner":
        raise invalid("partner", "un partenaire ne se précise que pour supplied_by=partner")
    return body.model_dump(
        include={"name", "function", "kind", "form", "os", "supplied_by", "partner"}
    )


async def add_asset(
    conn: asyncpg.Connection, client_id: uuid.UUID, body: NewAsset, actor: Actor, today: date
) -> AssetChanged:
    values = _asset_values(body)
    client = await clients.client_row(conn, client_id, lock=True)
    postes = await amendments.postes_of(conn, client_id)
    try:
        row = await repo.insert_asset(conn, {"id": uuid.uuid4(), "client_id": client_id, **values})
    except asyncpg.UniqueViolationError as exc:
        raise AssetNameTaken(
            f"an asset named {body.name!r} already exists in this practice"
        ) from exc
    await audit.record(
        conn,
        actor,
        "asset.added",
        target_type="asset",
        target_id=row["id"],
        client_id=client_id,
        after=values,
    )
    change = await amendments.record(
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
    client = await clients.client_row(conn, client_id, lock=True)
    before = await repo.get_asset(conn, client_id, asset_id)
    if before is None:
        raise AssetNotFound(f"asset {asset_id} not found in client {client_id}")
    postes = await amendments.postes_of(conn, client_id)
    try:
        row = await repo.update_asset(conn, asset_id, values)
    except asyncpg.UniqueViolationError as exc:
        raise AssetNameTaken(
            f"an asset named {body.name!r} already exists in this practice"
        ) from exc
    await audit.record(
        conn,
        actor,
        "asset.changed",
        target_type="asset",
        target_id=asset_id,
        client_id=client_id,
        before=repo.record(before, list(values)),
        after=values,
    )
    change = await amendments.record(
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
    client = await clients.client_row(conn, client_id, lock=True)
    before = await repo.get_asset(conn, client_id, asset_id)
    if before is None:
        raise AssetNotFound(f"asset {asset_id} not found in client {client_id}")
    postes = await amendments.postes_of(conn, client_id)
    await repo.remove_asset(conn, asset_id)
    await audit.record(
        conn,
        actor,
        "asset.removed",
        target_type="asset",
        target_id=asset_id,
        client_id=client_id,
        before=dict(before),
    )
    change = await amendments.record(
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


async def list_assets(
    conn: asyncpg.Connection, client_id: uuid.UUID, *, limit: int, cursor: str | None
) -> pagination.Page[AssetOut]:
    """The practice's current assets, a page at a time in the order they were added."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    await clients.client_row(conn, client_id)
    rows = await repo.list_assets(conn, client_id, after=after, limit=limit + 1)
    return pagination.Page[AssetOut].of(
        rows, limit, key=lambda r: (r["created_at"], r["id"]), out=asset_out
    )
