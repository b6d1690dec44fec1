"""What every repository module takes: a connection, pooled or not."""

from __future__ import annotations

import asyncpg

Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
