"""Price-book changes under four eyes (B1, B9, O2): an operator asks for a new price book (the
yearly prices by offer and level, or the one-off items), a different operator holding
``billing:approve`` approves it, and only then is it written (a new version of the yearly
prices, whose waiting charges are then invoiced; or the new items).

The request and its decision are ``four_eyes``'s, as for corrections; this module holds the two
kinds ``price_book`` and ``price_items``: what is checked when asked, what approving writes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from prisme_chassis import audit
from prisme_chassis.money import money_str

from . import domain, errors, four_eyes, service
from . import repository as repo
from .four_eyes import Applied, Trail


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


class _PriceChange:
    """What both price kinds audit when asked and when refused (the approval is the target)."""

    name: str

    def requested(self, approval: asyncpg.Record) -> Trail:
        return Trail(
            f"{self.name}.change_requested",
            "approval",
            approval["id"],
            after=approval["payload"],
            detail={"payload_hash": approval["payload_hash"]},
        )

    def rejected(self, approval: asyncpg.Record) -> Trail:
        return Trail(
            f"{self.name}.change_rejected",
            "approval",
            approval["id"],
            detail={"maker": approval["maker"]},
        )

    def _changed(self, approval: asyncpg.Record) -> dict[str, Any]:
        return {"approval": str(approval["id"]), "maker": approval["maker"]}


class PriceBookChange(_PriceChange):
    """The kind ``price_book``: a new version of the yearly prices (B1)."""

    name = "price_book"

    async def apply(
        self, conn: asyncpg.Connection, approval: asyncpg.Record, checker: audit.Actor
    ) -> Applied:
        """The new version is written and what waited for its prices is invoiced."""
        before = await repo.current_price_book(conn)
        version = await service.replace_price_book(
            conn,
            prices_of(approval["payload"]),
            approval["maker"],
            approved_by=checker.sub,
            by=checker,
        )
        trail = Trail(
            "price_book.changed",
            "price_book",
            version,
            before=payload_of(before.prices) | {"version": before.version},
            after=approval["payload"] | {"version": version},
            detail=self._changed(approval),
        )
        return Applied(trail, result_version=version)


class PriceItemsChange(_PriceChange):
    """The kind ``price_items``: the one-off items in force (B9)."""

    name = "price_items"

    async def apply(
        self, conn: asyncpg.Connection, approval: asyncpg.Record, checker: audit.Actor
    ) -> Applied:
        before = [
            (r["code"], r["label"], r["unit_code"], r["unit_ttc"])
            for r in await repo.price_items(conn)
        ]
        items = [
            (i["code"], i["label"], _UNIT_CODES[i["unit"]], Decimal(i["unit_ttc"]))
            for i in approval["payload"]["items"]
        ]
        await repo.replace_price_items(conn, items, approval["maker"])
        trail = Trail(
            "price_items.changed",
            "price_items",
            before=items_payload(before),
            after=approval["payload"],
            detail=self._changed(approval),
        )
        return Applied(trail)


PRICE_BOOK = PriceBookChange()
PRICE_ITEMS = PriceItemsChange()


async def request(
    conn: asyncpg.Connection,
    prices: list[domain.Price],
    *,
    reason: str,
    actor: audit.Actor,
    now: datetime,
) -> asyncpg.Record:
    """O2: ask for a new price book (checked now, applied on approval)."""
    service.check_price_book(prices)
    return await four_eyes.request(
        conn, PRICE_BOOK, payload_of(prices), reason=reason, maker=actor, now=now
    )


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
    return await four_eyes.request(
        conn, PRICE_ITEMS, items_payload(items), reason=reason, maker=actor, now=now
    )
