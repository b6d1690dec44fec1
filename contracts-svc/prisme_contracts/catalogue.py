"""The offers catalogue and the maintenance levels as data (C1), edited by an admin.

What an offer includes decides what the other services do (Microsoft 365 accounts, the cloud
backup): a change applies to the contract events published from then on, never to the past.
The price of a level lives in billing's price book (B1), keyed by offer and level.
"""

from __future__ import annotations

import asyncpg
from prisme_chassis import audit, pagination
from prisme_chassis.audit import Actor

from . import errors
from . import repository as repo
from .schemas import ItemOut, LevelIn, LevelOut, LevelPatch, OfferIn, OfferOut, OfferPatch


def _offer(row: asyncpg.Record, labels: dict[str, str]) -> OfferOut:
    return OfferOut(
        code=row["code"],
        label=row["label"],
        includes=list(row["includes"]),
        items=[ItemOut(code=c, label=labels.get(c, c)) for c in row["includes"]],
    )


async def list_offers(
    conn: asyncpg.Connection, *, limit: int, cursor: str | None
) -> pagination.Page[OfferOut]:
    """C1: the catalogue, a page at a time in its order, each offer with what it includes."""
    after = pagination.decode(cursor, pagination.int32, pagination.text)
    rows = await repo.list_offers(conn, after=after, limit=limit + 1)
    labels = await repo.catalogue_labels(conn)
    return pagination.Page[OfferOut].of(
        rows,
        limit,
        key=lambda r: (r["position"], pagination.text_part(r["code"])),
        out=lambda r: _offer(r, labels),
    )


async def _check_items(conn: asyncpg.Connection, includes: list[str]) -> list[str]:
    known = await repo.catalogue_codes(conn)
    unknown = sorted(set(includes) - known)
    if unknown:
        raise errors.UnknownCatalogueItems(
            f"éléments de catalogue inconnus : {', '.join(unknown)}",
            errors=[{"field": "includes", "detail": f"known items: {sorted(known)}"}],
        )
    return sorted(set(includes), key=includes.index)


async def _offer_out(conn: asyncpg.Connection, code: str) -> OfferOut:
    row = await repo.get_offer(conn, code)
    assert row is not None, "read back in the transaction that wrote it"
    return _offer(row, await repo.catalogue_labels(conn))


async def create_offer(conn: asyncpg.Connection, body: OfferIn, actor: Actor) -> OfferOut:
    includes = await _check_items(conn, body.includes)
    if not await repo.insert_offer(conn, body.code, body.label, includes):
        raise errors.OfferExists(f"l'offre {body.code!r} existe déjà")
    await audit.record(
        conn,
        actor,
        "offer.created",
        target_type="offer",
        target_id=None,
        client_id=None,
        after={"code": body.code, "label": body.label, "includes": includes},
    )
    return await _offer_out(conn, body.code)


async def update_offer(
    conn: asyncpg.Connection, code: str, body: OfferPatch, actor: Actor
) -> OfferOut:
    row = await repo.get_offer(conn, code)
    if row is None:
        raise errors.OfferNotFound(f"aucune offre {code!r}")
    label = body.label if body.label is not None else row["label"]
    includes = (
        await _check_items(conn, body.includes)
        if body.includes is not None
        else list(row["includes"])
    )
    await repo.update_offer(conn, code, label, includes)
    await audit.record(
        conn,
        actor,
        "offer.updated",
        target_type="offer",
        target_id=None,
        client_id=None,
        before={"code": code, "label": row["label"], "includes": list(row["includes"])},
        after={"code": code, "label": label, "includes": includes},
    )
    return await _offer_out(conn, code)


def _level_out(row: asyncpg.Record) -> LevelOut:
    return LevelOut(
        code=row["code"],
        label=row["label"],
        description=row["description"],
        is_default=row["is_default"],
    )


async def list_levels(
    conn: asyncpg.Connection, *, limit: int, cursor: str | None
) -> pagination.Page[LevelOut]:
    """The maintenance levels, a page at a time in their order (B1: the price depends on them)."""
    after = pagination.decode(cursor, pagination.int32, pagination.text)
    rows = await repo.list_levels(conn, after=after, limit=limit + 1)
    return pagination.Page[LevelOut].of(
        rows, limit, key=lambda r: (r["position"], pagination.text_part(r["code"])), out=_level_out
    )


async def create_level(conn: asyncpg.Connection, body: LevelIn, actor: Actor) -> LevelOut:
    if not await repo.insert_level(conn, body.code, body.label, body.description):
        raise errors.LevelExists(f"le niveau {body.code!r} existe déjà")
    await audit.record(
        conn,
        actor,
        "level.created",
        target_type="maintenance_level",
        target_id=None,
        client_id=None,
        after=body.model_dump(),
    )
    row = await repo.get_level(conn, body.code)
    assert row is not None
    return _level_out(row)


async def update_level(
    conn: asyncpg.Connection, code: str, body: LevelPatch, actor: Actor
) -> LevelOut:
    row = await repo.get_level(conn, code)
    if row is None:
        raise errors.LevelNotFound(f"aucun niveau de maintenance {code!r}")
    if body.is_default is False and row["is_default"]:
        raise errors.DefaultLevelRequired(
            "un autre niveau doit devenir le niveau par défaut à sa place"
        )
    label = body.label if body.label is not None else row["label"]
    description = body.description if body.description is not None else row["description"]
    await repo.update_level(conn, code, label, description, bool(body.is_default))
    updated = await repo.get_level(conn, code)
    assert updated is not None
    await audit.record(
        conn,
        actor,
        "level.updated",
        target_type="maintenance_level",
        target_id=None,
        client_id=None,
        before=_level_out(row).model_dump(),
        after=_level_out(updated).model_dump(),
    )
    return _level_out(updated)
