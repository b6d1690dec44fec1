"""Database: an asyncpg pool per service and a small, tested migration runner.

Migrations are plain SQL files named ``NNN_description.sql`` in a directory, applied in order,
each in its own transaction, recorded in ``schema_migrations`` per component with a checksum so
an edited, already-applied migration is refused instead of silently ignored. Concurrent starters
serialise on an advisory lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import asyncpg

CHASSIS_MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x5052_4953  # "PRIS"


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path) -> list[Migration]:
    """The migrations of ``directory``, in version order; refuses gaps in naming and duplicates."""
    found: dict[int, Migration] = {}
    for path in sorted(Path(directory).glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"migration file name not of the form NNN_name.sql: {path.name}")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations with version {version} in {directory}")
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A released connection keeps its session: nothing to undo, no round trip.

    asyncpg still rolls back a transaction left open and drops listeners before calling this;
    its default reset would add ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    on every release, one more round trip per request (a quarter of a list read's, P4). The
    platform keeps no session state on pooled connections: settings are ``SET LOCAL``, locks
    are ``pg_advisory_xact_lock`` (the migration lock is released in a ``finally``), cursors
    live inside transactions, and LISTEN runs on dedicated connections.
    """


#: how long an unused pooled connection stays open
IDLE_CONNECTION_SECONDS = 30.0


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    application_name: str | None = None,
    **kwargs: Any,
) -> asyncpg.Pool:
    """An asyncpg pool whose json/jsonb columns read and write Python objects.

    A connection idle for ``IDLE_CONNECTION_SECONDS`` is closed (asyncpg keeps them five
    minutes by default): a burst, or a service's start-up (migrations, workers and consumers
    starting at once), leaves no row of idle PostgreSQL backends behind, ~3-8 MB each (P5).
    ``application_name`` names the service in ``pg_stat_activity``."""
    kwargs.setdefault("reset", _keep_session)
    kwargs.setdefault("max_inactive_connection_lifetime", IDLE_CONNECTION_SECONDS)
    if application_name:
        kwargs.setdefault("server_settings", {})["application_name"] = application_name
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, **kwargs
    )
    assert pool is not None
    return pool


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection inside one transaction: committed on normal exit, rolled back on
    any exception (the one way every worker, handler and script opens a transaction)."""
    async with pool.acquire() as proxy, proxy.transaction():
        yield cast(asyncpg.Connection, proxy)


@contextlib.asynccontextmanager
async def reading(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One pooled connection outside any explicit transaction: each statement commits alone
    and sees its own snapshot. For a read done with one statement (a list, a lookup), it saves
    the BEGIN and COMMIT round trips of :func:`transaction`; reads that must agree across
    statements, and every write, use :func:`transaction`."""
    async with pool.acquire() as proxy:
        yield cast(asyncpg.Connection, proxy)


async def migrate(conn: asyncpg.Connection, component: str, directory: Path) -> list[int]:
    """Apply the pending migrations of ``component`` from ``directory``; return the versions applied."""
    migrations = load_migrations(directory)
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                component text NOT NULL,
                version integer NOT NULL,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (component, version)
            )
            """
        )
        rows = await conn.fetch(
            "SELECT version, checksum FROM schema_migrations WHERE component = $1", component
        )
        done = {r["version"]: r["checksum"] for r in rows}
        for m in migrations:
            if m.version in done:
                if done[m.version] != m.checksum:
                    raise MigrationError(
                        f"{component} migration {m.version}_{m.name} changed after it was applied"
                    )
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (component, version, name, checksum)"
                    " VALUES ($1, $2, $3, $4)",
                    component,
                    m.version,
                    m.name,
                    m.checksum,
                )
            applied_now.append(m.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def migrate_service(pool: asyncpg.Pool, component: str, directory: Path) -> None:
    """The chassis tables (outbox, inbox) first, then the service's own migrations."""
    async with pool.acquire() as proxy:
        conn = cast(asyncpg.Connection, proxy)
        await migrate(conn, "chassis", CHASSIS_MIGRATIONS)
        await migrate(conn, component, directory)


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs as the pool (scripts, benchmarks)."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
