"""What every repository module takes: something queries run on."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

#: Anything queries can run on: a connection (in a transaction or not), a pooled one, the pool.
DB: TypeAlias = (
    "asyncpg.Connection | PoolConnectionProxy[asyncpg.Record] | asyncpg.Pool[asyncpg.Record]"
)
