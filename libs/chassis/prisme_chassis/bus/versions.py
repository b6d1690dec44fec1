"""Aggregate versions for events (DESIGN §3: every event carries its aggregate's version).

A service whose aggregate table already keeps a ``version`` column (contracts) uses it; the others
call :func:`next_version` in the transaction that changes the aggregate and enqueues the event:
the version is bumped in the same commit, so versions are gap-free per aggregate, strictly
increasing in commit order, and a rolled-back change consumes none.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg


async def next_version(
    conn: asyncpg.Connection, aggregate: str, aggregate_id: uuid.UUID | str
) -> int:
    """The aggregate's next version (1 for its first event), inside the caller's transaction."""
    if not conn.is_in_transaction():
        raise RuntimeError("next_version() must run inside the transaction of the state change")
    version: int = await conn.fetchval(
        "INSERT INTO aggregate_versions (aggregate, aggregate_id, version) VALUES ($1, $2, 1)"
        " ON CONFLICT (aggregate, aggregate_id)"
        " DO UPDATE SET version = aggregate_versions.version + 1 RETURNING version",
        aggregate,
        str(aggregate_id),
    )
    return version


async def next_versions(
    conn: asyncpg.Connection, aggregate: str, aggregate_ids: Sequence[uuid.UUID | str]
) -> dict[str, int]:
    """:func:`next_version` for many aggregates in one statement (a batch of Graph jobs):
    each id's next version, by ``str(id)``. The ids must be distinct."""
    if not conn.is_in_transaction():
        raise RuntimeError("next_versions() must run inside the transaction of the state change")
    ids = [str(i) for i in aggregate_ids]
    if len(set(ids)) != len(ids):
        raise ValueError("next_versions() needs distinct aggregate ids")
    rows = await conn.fetch(
        "INSERT INTO aggregate_versions (aggregate, aggregate_id, version)"
        " SELECT $1, i, 1 FROM unnest($2::text[]) AS t(i)"
        " ON CONFLICT (aggregate, aggregate_id)"
        " DO UPDATE SET version = aggregate_versions.version + 1"
        " RETURNING aggregate_id, version",
        aggregate,
        ids,
    )
    return {r["aggregate_id"]: int(r["version"]) for r in rows}
