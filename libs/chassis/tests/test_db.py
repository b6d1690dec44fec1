"""``transaction(pool)``: the one way to open a transaction outside a route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from prisme_chassis.db import create_pool, transaction


class Boom(Exception):
    pass


async def test_commits_on_exit_and_rolls_back_on_exception(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    pool = await create_pool(await new_database(), max_size=2)
    try:
        async with transaction(pool) as conn:
            await conn.execute("CREATE TABLE t (v int)")
            await conn.execute("INSERT INTO t VALUES (1)")
            assert conn.is_in_transaction()

        async def insert_then_fail() -> None:
            async with transaction(pool) as conn:
                await conn.execute("INSERT INTO t VALUES (2)")
                raise Boom

        with pytest.raises(Boom):
            await insert_then_fail()
        async with pool.acquire() as conn:
            assert [r["v"] for r in await conn.fetch("SELECT v FROM t")] == [1]
        assert pool.get_size() - pool.get_idle_size() == 0  # every connection went back
    finally:
        await pool.close()
