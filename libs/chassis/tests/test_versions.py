"""Aggregate versions for events: bumped in the caller's transaction, none lost to a rollback."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from prisme_chassis.bus import next_version, next_versions
from prisme_chassis.db import CHASSIS_MIGRATIONS, migrate


async def test_versions_increase_per_aggregate_and_a_rollback_consumes_none(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    conn = await asyncpg.connect(await new_database())
    try:
        await migrate(conn, "chassis", CHASSIS_MIGRATIONS)
        invoice, other = uuid.uuid4(), uuid.uuid4()
        seen = []
        for _ in range(3):
            async with conn.transaction():
                seen.append(await next_version(conn, "invoice", invoice))
        assert seen == [1, 2, 3]
        async with conn.transaction():  # another aggregate, or another kind, starts at 1
            assert await next_version(conn, "invoice", other) == 1
            assert await next_version(conn, "credit_note", invoice) == 1
        tx = conn.transaction()
        await tx.start()
        assert await next_version(conn, "invoice", invoice) == 4
        await tx.rollback()
        async with conn.transaction():
            assert await next_version(conn, "invoice", invoice) == 4
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await next_version(conn, "invoice", invoice)
    finally:
        await conn.close()


async def test_next_versions_bumps_many_aggregates_in_one_statement(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    conn = await asyncpg.connect(await new_database())
    try:
        await migrate(conn, "chassis", CHASSIS_MIGRATIONS)
        a, b = uuid.uuid4(), uuid.uuid4()
        async with conn.transaction():
            assert await next_version(conn, "licence_account", a) == 1
        async with conn.transaction():
            assert await next_versions(conn, "licence_account", [a, b]) == {str(a): 2, str(b): 1}
            assert await next_versions(conn, "licence_account", []) == {}
        async with conn.transaction():
            assert await next_version(conn, "licence_account", b) == 2  # the same counters
        with pytest.raises(ValueError, match="distinct"):
            async with conn.transaction():
                await next_versions(conn, "licence_account", [a, a])
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await next_versions(conn, "licence_account", [a])
    finally:
        await conn.close()
