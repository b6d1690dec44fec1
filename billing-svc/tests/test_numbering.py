"""B6: gapless, chronological numbering allocated at finalisation, in the same transaction."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal
from typing import Any, cast

import asyncpg
import pytest
from prisme_billing import domain, service
from prisme_billing import repository as repo

BUYER = {
    "name": "Cabinet médical des Lilas",
    "siren": "552100554",
    "line1": "3 rue des Lilas",
    "postal_code": "97410",
    "city": "Saint-Pierre",
    "manager_name": "Dr Hoarau",
    "email": "gerant@lilas.example",
}


async def _client(pool: asyncpg.Pool) -> uuid.UUID:
    client_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await repo.upsert_client(cast(Any, conn), BUYER, client_id)
    return client_id


async def _drafts(pool: asyncpg.Pool, client_id: uuid.UUID, n: int) -> list[uuid.UUID]:
    charge = domain.activation_charge(domain.PRISME_DEFAULT, 6, date(2026, 1, 1))
    ids = []
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(n):
            doc_id, _ = await service.create_draft_invoice(
                cast(Any, conn), uuid.uuid4(), client_id, [charge], 1
            )
            ids.append(doc_id)
    return ids


async def test_200_concurrent_finalisations_get_200_consecutive_numbers(pool: asyncpg.Pool) -> None:
    client_id = await _client(pool)
    # 228 finalisations race; every 8th dies after taking its number: 200 commit.
    ids = await _drafts(pool, client_id, 228)
    today = date(2026, 3, 15)

    async def finalise(doc_id: uuid.UUID, fail: bool) -> str | None:
        try:
            async with pool.acquire() as conn, conn.transaction():
                number = await service.finalise(cast(Any, conn), doc_id, "invoice", today)
                await asyncio.sleep(0)
                if fail:  # a finalisation that dies after taking its number gives it back
                    raise RuntimeError("boom")
                return number
        except RuntimeError:
            return None

    results = await asyncio.gather(
        *(finalise(doc_id, fail=i % 8 == 7) for i, doc_id in enumerate(ids))
    )
    numbers = [n for n in results if n is not None]
    assert len(numbers) == 200
    assert sorted(numbers) == [f"F2026-{i:06d}" for i in range(1, len(numbers) + 1)]
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT number, sequence, finalised_at FROM documents WHERE status <> 'draft'"
            " ORDER BY sequence"
        )
        drafts = await conn.fetchval("SELECT count(*) FROM documents WHERE status = 'draft'")
    assert [r["sequence"] for r in rows] == list(range(1, len(numbers) + 1))
    # Chronological: a higher number was never finalised before a lower one committed its own.
    stamps = [r["finalised_at"] for r in rows]
    assert stamps == sorted(stamps)
    assert drafts == 28


async def test_series_are_per_type_and_year(pool: asyncpg.Pool) -> None:
    client_id = await _client(pool)
    a, b, c = await _drafts(pool, client_id, 3)
    async with pool.acquire() as conn, conn.transaction():
        c_ = cast(Any, conn)
        assert await service.finalise(c_, a, "invoice", date(2026, 12, 31)) == "F2026-000001"
        assert await service.finalise(c_, b, "invoice", date(2027, 1, 1)) == "F2027-000001"
        assert await repo.allocate_number(c_, "credit_note", 2027) == 1
        assert await service.finalise(c_, c, "invoice", date(2027, 1, 2)) == "F2027-000002"


async def test_a_finalised_document_is_never_edited(pool: asyncpg.Pool) -> None:
    client_id = await _client(pool)
    (doc_id,) = await _drafts(pool, client_id, 1)
    async with pool.acquire() as conn, conn.transaction():
        await service.finalise(cast(Any, conn), doc_id, "invoice", date(2026, 5, 1))
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await conn.execute("UPDATE documents SET total_ttc = 1 WHERE id = $1", doc_id)
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await conn.execute(
                "UPDATE document_lines SET total_ttc = 1, total_ht = 1, total_vat = 0"
                " WHERE document_id = $1",
                doc_id,
            )
        with pytest.raises(asyncpg.RaiseError, match="immutable"):
            await conn.execute("UPDATE documents SET number = 'F2026-999999' WHERE id = $1", doc_id)
        total = await conn.fetchval("SELECT total_ttc FROM documents WHERE id = $1", doc_id)
    assert total == Decimal("3480.00")
    async with pool.acquire() as conn, conn.transaction():
        with pytest.raises(RuntimeError, match="not a draft"):
            await service.finalise(cast(Any, conn), doc_id, "invoice", date(2026, 5, 2))
