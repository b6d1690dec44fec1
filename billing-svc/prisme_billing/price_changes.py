"""Price-book changes under four eyes (B1, B9, O2): an operator asks for a new price book (the
yearly prices by offer and level, or the one-off items), a different operator holding
``billing:approve`` approves it, and only then is it written (a new version of the yearly
prices, whose waiting charges are then invoiced; or the new items).

Same pattern as corrections: the request stores the maker, the exact payload and its hash, an
expiry, then the decision with its note; maker ≠ checker by the token's ``sub`` (and a CHECK
in the table). Every step is written to the chassis audit trail (O3) in its transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from prisme_chassis import audit
from prisme_chassis.money import money_str

from . import corrections, domain, errors, service
from . import repository as repo

#: The approval kinds this module decides.
KINDS = frozenset({"price_book", "price_items"})


def payload_of(prices: list[domain.Price]) -> dict[str, Any]:
    """The exact change the checker approves (money as decimal strings, hashable)."""
    return {
        "prices": [
            {
                "offer": p.offer,
                "level": p.level,
                "label": p.label,
                "base_ttc": money_str(p.base_ttc),
                "included_postes": p.included_postes,
                "extra_poste_ttc": money_str(p.extra_poste_ttc),
            }
            for p in prices
        ]
    }


def prices_of(payload: dict[str, Any]) -> list[domain.Price]:
    return [
        domain.Price(
            offer=p["offer"],
            base_ttc=Decimal(p["base_ttc"]),
            included_postes=int(p["included_postes"]),
            extra_poste_ttc=Decimal(p["extra_poste_ttc"]),
            label=p["label"],
            level=p["level"],
        )
        for p in payload["prices"]
    ]


async def request(
    conn: asyncpg.Connection,
    prices: list[domain.Price],
    *,
    reason: str,
    actor: audit.Actor,
    now: datetime,
) -> asyncpg.Record:
    """O2: record the request (checked now, applied on approval)."""
    service.check_price_book(prices)
    payload = payload_of(prices)
    approval = await repo.insert_approval(
        conn,
        kind="price_book",
        target_id=None,
        payload=payload,
        reason=reason,
        maker=actor.sub,
        maker_name=actor.name,
        expires_at=now + corrections.APPROVAL_TTL,
    )
    await audit.record(
        conn,
        actor,
        "price_book.change_requested",
        target_type="approval",
        target_id=approval["id"],
        reason=reason,
        after=payload,
        detail={"payload_hash": approval["payload_hash"]},
    )
    return approval


#: One-off item rows as the repository stores them: (code, label, unit code, unit TTC).
Item = tuple[str, str, str, Decimal]
_UNIT_CODES = {"forfait": domain.UNIT_ONE, "heure": domain.UNIT_HOUR}
_UNIT_NAMES = {code: name for name, code in _UNIT_CODES.items()}


def items_payload(items: list[Item]) -> dict[str, Any]:
    return {
        "items": [
            {"code": c, "label": lb, "unit": _UNIT_NAMES[u], "unit_ttc": money_str(t)}
            for c, lb, u, t in items
        ]
    }


async def request_items(
    conn: asyncpg.Connection,
    items: list[Item],
    *,
    reason: str,
    actor: audit.Actor,
    now: datetime,
) -> asyncpg.Record:
    """O2: ask for new one-off items (B9: travel per zone, hourly rate, fixed prices)."""
    codes = [i[0] for i in items]
    if len(set(codes)) != len(codes):
        raise errors.DuplicatePriceItem("a code appears twice", codes=codes)
    payload = items_payload(items)
    approval = await repo.insert_approval(
        conn,
        kind="price_items",
        target_id=None,
        payload=payload,
        reason=reason,
        maker=actor.sub,
        maker_name=actor.name,
        expires_at=now + corrections.APPROVAL_TTL,
    )
    await audit.record(
        conn,
        actor,
        "price_items.change_requested",
        target_type="approval",
        target_id=approval["id"],
        reason=reason,
        after=payload,
        detail={"payload_hash": approval["payload_hash"]},
    )
    return approval


async def _approve_items(
    conn: asyncpg.Connection, approval: asyncpg.Record, actor: audit.Actor, note: str
) -> asyncpg.Record:
    before = [
        (r["code"], r["label"], r["unit_code"], r["unit_ttc"]) for r in await repo.price_items(conn)
    ]
    items = [
        (i["code"], i["label"], _UNIT_CODES[i["unit"]], Decimal(i["unit_ttc"]))
        for i in approval["payload"]["items"]
    ]
    await repo.replace_price_items(conn, items, approval["maker"])
    decided = await repo.decide_approval(
        conn,
        approval["id"],
        status="approved",
        checker=actor.sub,
        checker_name=actor.name,
        note=note,
    )
    await audit.record(
        conn,
        actor,
        "price_items.changed",
        target_type="price_items",
        reason=note,
        before=items_payload(before),
        after=approval["payload"],
        detail={"approval": str(approval["id"]), "maker": approval["maker"]},
    )
    return decided


async def approve(
    conn: asyncpg.Connection,
    approval_id: uuid.UUID,
    *,
    actor: audit.Actor,
    note: str,
    now: datetime,
) -> asyncpg.Record:
    """O2: another operator approves: the new version is written and what waited for its
    prices is invoiced (or the new items are in force), in this transaction."""
    approval = await corrections.pending(conn, approval_id, actor.sub, now)
    if approval["kind"] == "price_items":
        return await _approve_items(conn, approval, actor, note)
    before = await repo.current_price_book(conn)
    version = await service.replace_price_book(
        conn, prices_of(approval["payload"]), approval["maker"], approved_by=actor.sub, by=actor
    )
    decided = await repo.decide_approval(
        conn,
        approval_id,
        status="approved",
        checker=actor.sub,
        checker_name=actor.name,
        note=note,
        result_version=version,
    )
    await audit.record(
        conn,
        actor,
        "price_book.changed",
        target_type="price_book",
        target_id=version,
        reason=note,
        before=payload_of(before.prices) | {"version": before.version},
        after=approval["payload"] | {"version": version},
        detail={"approval": str(approval_id), "maker": approval["maker"]},
    )
    return decided


async def reject(
    conn: asyncpg.Connection,
    approval_id: uuid.UUID,
    *,
    actor: audit.Actor,
    note: str,
    now: datetime,
) -> asyncpg.Record:
    approval = await corrections.pending(conn, approval_id, actor.sub, now)
    decided = await repo.decide_approval(
        conn,
        approval_id,
        status="rejected",
        checker=actor.sub,
        checker_name=actor.name,
        note=note,
    )
    await audit.record(
        conn,
        actor,
        f"{approval['kind']}.change_rejected",
        target_type="approval",
        target_id=approval_id,
        reason=note,
        detail={"maker": approval["maker"]},
    )
    return decided
