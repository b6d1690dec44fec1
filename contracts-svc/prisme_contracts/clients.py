"""Practices (C3): the client, its local network, and the partners list operators keep."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from prisme_chassis import audit, pagination
from prisme_chassis.audit import Actor
from prisme_chassis.bus import enqueue, next_version
from prisme_events import ClientCorrected

from . import domain, eligibility, errors
from . import repository as repo
from .errors import ClientNotFound, NetworkNotDeclared, PartnerListed, PartnerNotListed
from .facts import (
    client_out,
    client_snapshot,
    clients_out,
    invalid,
    network_out,
)
from .schemas import (
    ClientOut,
    ClientPatch,
    NetworkIn,
    NetworkOut,
    NewClient,
    PartnerOut,
)

# --- clients ------------------------------------------------------------------------------


async def create_client(conn: asyncpg.Connection, body: NewClient, actor: Actor) -> ClientOut:
    siren = domain.normalize_siren(body.siren)
    if not domain.siren_is_valid(siren):
        raise invalid("siren", f"SIREN invalide (9 chiffres avec clé de Luhn) : {body.siren}")
    if not domain.email_is_valid(body.manager.email):
        raise invalid("manager.email", f"adresse e-mail invalide : {body.manager.email}")
    if not domain.phone_is_valid(body.manager.phone):
        raise invalid("manager.phone", f"numéro de téléphone invalide : {body.manager.phone}")
    if not domain.postal_code_is_valid(body.address.postal_code):
        raise invalid(
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
        target_type="client",
        target_id=row["id"],
        client_id=row["id"],
        after=values,
    )
    return client_out(row)


async def correct_client(
    conn: asyncpg.Connection, client_id: uuid.UUID, body: ClientPatch, actor: Actor
) -> ClientOut:
    """C8: correct the practice's name, SIREN, address or manager, audited with before and
    after; a postal code outside La Réunion is re-checked by C3 at once (C4 flags the active
    contracts, never ends them). ``client.corrected`` tells billing (later documents and the
    Stripe customer); finalised documents keep the identity they were issued with."""
    before = await client_row(conn, client_id, lock=True)
    fields: dict[str, Any] = {}
    if body.name is not None:
        fields["name"] = body.name
    if body.siren is not None:
        siren = domain.normalize_siren(body.siren)
        if not domain.siren_is_valid(siren):
            raise invalid("siren", f"SIREN invalide (9 chiffres avec clé de Luhn) : {body.siren}")
        fields["siren"] = siren
    if body.manager is not None:
        m = body.manager
        if m.email is not None and not domain.email_is_valid(m.email):
            raise invalid("manager.email", f"adresse e-mail invalide : {m.email}")
        if m.phone is not None and not domain.phone_is_valid(m.phone):
            raise invalid("manager.phone", f"numéro de téléphone invalide : {m.phone}")
        for key, value in (("name", m.name), ("email", m.email), ("phone", m.phone)):
            if value is not None:
                fields[f"manager_{key}"] = (
                    domain.normalize_phone(value) if key == "phone" else value
                )
    if body.address is not None:
        a = body.address
        if a.postal_code is not None and not domain.postal_code_is_valid(a.postal_code):
            raise invalid(
                "address.postal_code", f"code postal invalide (5 chiffres) : {a.postal_code}"
            )
        for key, value in (("line1", a.line1), ("postal_code", a.postal_code), ("city", a.city)):
            if value is not None:
                fields[key] = value
    changed = {k: v for k, v in fields.items() if before[k] != v}
    if not changed:
        return client_out(before)
    row = await repo.update_client(conn, client_id, changed)
    await audit.record(
        conn,
        actor,
        "client.corrected",
        target_type="client",
        target_id=client_id,
        client_id=client_id,
        before={k: before[k] for k in changed},
        after=changed,
    )
    version = await next_version(conn, "client", client_id)
    await enqueue(
        conn,
        ClientCorrected(
            event_id=uuid.uuid5(_CLIENT_EVENTS, f"{client_id}:v{version}"),
            client=client_snapshot(row),
            version=version,
            changed=sorted(_public_name(k) for k in changed),
        ),
    )
    if "postal_code" in changed:
        await eligibility.recheck(conn, client_id, actor)
    return client_out(row)


# One event per client version: a replayed correction can never publish twice.
_CLIENT_EVENTS = uuid.UUID("2f9a8d3c-51b7-4f0e-8a7e-6c1d9b0e4a55")


def _public_name(column: str) -> str:
    if column.startswith("manager_"):
        return "manager." + column.removeprefix("manager_")
    if column in ("line1", "postal_code", "city"):
        return "address." + column
    return column


async def client_row(
    conn: asyncpg.Connection, client_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record:
    row = await repo.get_client(conn, client_id, lock=lock)
    if row is None:
        raise ClientNotFound(f"client {client_id} not found")
    return row


async def get_client(conn: asyncpg.Connection, client_id: uuid.UUID) -> ClientOut:
    return client_out(await client_row(conn, client_id))


async def list_clients(
    conn: asyncpg.Connection,
    limit: int,
    *,
    cursor: str | None = None,
    q: str | None = None,
    ids: list[uuid.UUID] | None = None,
) -> pagination.Page[ClientOut]:
    """A page of practices, oldest first (``created_at``, then ``id``)."""
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    rows = await repo.list_clients(conn, limit + 1, after=after, q=q, ids=ids)
    kept = rows[:limit]
    more = len(rows) > limit
    return pagination.Page[ClientOut](
        items=clients_out(kept),
        next_cursor=pagination.encode(kept[-1]["created_at"], kept[-1]["id"]) if more else None,
    )


# --- network --------------------------------------------------------------------------------


async def put_network(
    conn: asyncpg.Connection, client_id: uuid.UUID, body: NetworkIn, actor: Actor
) -> NetworkOut:
    await client_row(conn, client_id, lock=True)
    before = await repo.get_network(conn, client_id)
    row = await repo.upsert_network(
        conn, client_id, body.lan_count, body.download_mbps, body.upload_mbps
    )
    await audit.record(
        conn,
        actor,
        "network.set",
        target_type="network",
        target_id=client_id,
        client_id=client_id,
        before=None
        if before is None
        else repo.record(before, ["lan_count", "download_mbps", "upload_mbps"]),
        after=body.model_dump(),
    )
    await eligibility.recheck(conn, client_id, actor)
    return network_out(row)


async def get_network(conn: asyncpg.Connection, client_id: uuid.UUID) -> NetworkOut:
    await client_row(conn, client_id)
    row = await repo.get_network(conn, client_id)
    if row is None:
        raise NetworkNotDeclared(f"the network of client {client_id} is not declared")
    return network_out(row)


# --- partners -------------------------------------------------------------------------------


def _partner_out(row: asyncpg.Record) -> PartnerOut:
    return PartnerOut(
        name=row["name"],
        services=list(row["services"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


async def list_partners(
    conn: asyncpg.Connection, *, limit: int, cursor: str | None
) -> pagination.Page[PartnerOut]:
    """C3: the listed partners by name, a page at a time, with the services each provides."""
    after = pagination.decode(cursor, pagination.text)
    rows = await repo.page_partners(conn, after=after[0] if after else None, limit=limit + 1)
    return pagination.Page[PartnerOut].of(
        rows, limit, key=lambda r: (pagination.text_part(r["name"]),), out=_partner_out
    )


async def add_partner(
    conn: asyncpg.Connection, name: str, services: list[str], actor: Actor
) -> PartnerOut:
    if not await repo.insert_partner(conn, name, services, actor.sub):
        raise PartnerListed(f"partner {name!r} is already listed")
    await audit.record(
        conn,
        actor,
        "partner.added",
        target_type="partner",
        target_id=None,
        client_id=None,
        after={"name": name, "services": services},
    )
    row = await repo.get_partner(conn, name)
    assert row is not None
    for client_id in await repo.clients_with_partner_assets(conn, name):
        await eligibility.recheck(conn, client_id, actor)
    return _partner_out(row)


async def set_partner_services(
    conn: asyncpg.Connection, name: str, services: list[str], actor: Actor
) -> PartnerOut:
    """The services a listed partner provides (the terms' list of partners and services)."""
    row = await repo.get_partner(conn, name)
    if row is None:
        raise errors.PartnerNotListed(f"partner {name!r} is not listed")
    await repo.set_partner_services(conn, name, services)
    await audit.record(
        conn,
        actor,
        "partner.services_set",
        target_type="partner",
        target_id=None,
        client_id=None,
        before={"name": name, "services": list(row["services"])},
        after={"name": name, "services": services},
    )
    updated = await repo.get_partner(conn, name)
    assert updated is not None
    return _partner_out(updated)


async def remove_partner(conn: asyncpg.Connection, name: str, actor: Actor) -> None:
    if not await repo.delete_partner(conn, name):
        raise PartnerNotListed(f"partner {name!r} is not listed")
    await audit.record(
        conn,
        actor,
        "partner.removed",
        target_type="partner",
        target_id=None,
        client_id=None,
        before={"name": name},
    )
    for client_id in await repo.clients_with_partner_assets(conn, name):
        await eligibility.recheck(conn, client_id, actor)
