"""Routes of a plan's histories, each newest first, a page at a time: its agents, the copies
kept, its runs, integrity checks and restore tests, and the record of its purge (K3)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter
from prisme_chassis import pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from pydantic import BaseModel

from .. import errors, repository
from ..schemas import (
    AgentOut,
    CheckOut,
    PurgeOut,
    RunOut,
    SnapshotOut,
)
from ..service import plans

router = APIRouter(tags=["backups"])


M = TypeVar("M", bound=BaseModel)


async def _newest_of_plan(
    conn: Tx,
    table: str,
    plan_id: uuid.UUID,
    limit: int,
    cursor: str | None,
    out: Callable[[repository.Row], M],
) -> pagination.Page[M]:
    """One page of a plan's history (``repository.HISTORIES``), newest first."""
    before = pagination.decode(cursor, pagination.moment, uuid.UUID)
    await plans.get_plan(conn, plan_id)
    rows = await repository.newest_of_plan(conn, table, plan_id, limit + 1, before)
    at = repository.HISTORIES[table][0]
    return pagination.Page[M].of(rows, limit, key=lambda r: (r[at], r["id"]), out=out)


@router.get(
    "/v1/plans/{plan_id}/agents", responses=problems(errors.PlanNotFound, pagination.InvalidCursor)
)
async def list_agents(
    plan_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("backups:read"),
) -> pagination.Page[AgentOut]:
    """The agents enrolled for the plan (active or revoked), newest enrolment first."""
    return await _newest_of_plan(conn, "agents", plan_id, limit, cursor, AgentOut.of)


@router.get(
    "/v1/plans/{plan_id}/snapshots",
    responses=problems(errors.PlanNotFound, pagination.InvalidCursor),
)
async def list_snapshots(
    plan_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("backups:read"),
) -> pagination.Page[SnapshotOut]:
    """The copies currently kept (30 days of history at most, K1), newest first."""
    before = pagination.decode(cursor, pagination.moment, pagination.text)
    await plans.get_plan(conn, plan_id)
    rows = await repository.list_snapshots(conn, plan_id, limit=limit + 1, before=before)
    return pagination.Page[SnapshotOut].of(
        rows,
        limit,
        key=lambda r: (r["taken_at"], pagination.text_part(r["snapshot_id"])),
        out=SnapshotOut.of,
    )


@router.get(
    "/v1/plans/{plan_id}/runs", responses=problems(errors.PlanNotFound, pagination.InvalidCursor)
)
async def list_runs(
    plan_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("backups:read"),
) -> pagination.Page[RunOut]:
    """The plan's runs, newest first, a page at a time."""
    return await _newest_of_plan(conn, "runs", plan_id, limit, cursor, RunOut.of)


@router.get(
    "/v1/plans/{plan_id}/checks", responses=problems(errors.PlanNotFound, pagination.InvalidCursor)
)
async def list_checks(
    plan_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("backups:read"),
) -> pagination.Page[CheckOut]:
    """The plan's integrity checks and test restores, newest first, a page at a time."""
    return await _newest_of_plan(conn, "checks", plan_id, limit, cursor, CheckOut.of)


@router.get(
    "/v1/plans/{plan_id}/purges", responses=problems(errors.PlanNotFound, pagination.InvalidCursor)
)
async def list_purges(
    plan_id: uuid.UUID,
    conn: Tx,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("backups:read"),
) -> pagination.Page[PurgeOut]:
    """The record of the repository's destruction (K3), newest first."""
    return await _newest_of_plan(conn, "purges", plan_id, limit, cursor, PurgeOut.of)
