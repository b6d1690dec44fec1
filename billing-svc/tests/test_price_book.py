"""B1: a charge recorded while the price arrived is invoiced by the sweep, never twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, cast

import asyncpg
from prisme_billing import domain, service
from prisme_billing import repository as repo


async def test_sweep_invoices_charges_that_missed_the_price_update(
    pool: asyncpg.Pool, activated: Callable[..., Any]
) -> None:
    act = activated(postes=2, start=date(2026, 1, 1), offer="sav_sauvegarde")
    async with pool.acquire() as conn, conn.transaction():
        await service.contract_activated(cast(Any, conn), act)
    sav = domain.Price("sav_sauvegarde", Decimal("1200.00"), 6, Decimal("120.00"), "SAV")
    async with pool.acquire() as conn, conn.transaction():
        # The race: the price is written without seeing the charge (as a concurrent PUT would).
        c = cast(Any, conn)
        await repo.write_price_book(c, [domain.PRISME_DEFAULT, sav], "op-bob")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM documents") == 0
    for _ in range(2):
        async with pool.acquire() as conn, conn.transaction():
            await service.sweep_awaiting_charges(cast(Any, conn))
    async with pool.acquire() as conn:
        totals = await conn.fetch("SELECT total_ttc, price_book_version FROM documents")
        status = await conn.fetchval("SELECT status FROM charges")
    assert [(r["total_ttc"], r["price_book_version"]) for r in totals] == [(Decimal("1200.00"), 2)]
    assert status == "invoiced"
