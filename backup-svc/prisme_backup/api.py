"""Operator routes of backup-svc (bearer JWT with ``backups:*`` scopes)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from prisme_chassis import audit, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from prisme_chassis.wire import IsoDatetime
from pydantic import BaseModel
from starlette.concurrency import iterate_in_threadpool

from . import errors, repository
from .runtime import BackupRuntimeDep
from .schemas import (
    AgentOut,
    AlertOut,
    CheckOut,
    EnrolmentTokenOut,
    ExportOut,
    PlanOut,
    PlanPatch,
    PlanStatus,
    PurgeOut,
    RunOut,
    SnapshotOut,
)
from .service import exports, plans

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


@router.get("/v1/plans", responses=problems(pagination.InvalidCursor))
async def list_plans(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    status: PlanStatus | None = None,
    no_copy_since: Annotated[
        IsoDatetime | None,
        Query(description="Only the plans without a good copy finished since this instant"),
    ] = None,
    order: Annotated[
        Literal["created", "name"],
        Query(
            description="`created`: oldest first; `name`: by the practice's name, case "
            "and accents ignored"
        ),
    ] = "created",
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("backups:read"),
) -> pagination.Page[PlanOut]:
    """Plans, oldest first or by practice name, a page at a time (``next_cursor`` back as
    ``cursor``, with the same ``order``)."""
    if order == "name":
        after_name = pagination.decode(cursor, pagination.text, uuid.UUID)
        rows = await repository.list_plans(
            conn,
            client_id,
            limit=limit + 1,
            after_name=after_name,
            by_name=True,
            status=status,
            no_copy_since=no_copy_since,
        )
        return pagination.Page[PlanOut].of(
            rows,
            limit,
            key=lambda r: (pagination.text_part(r["name_order"]), r["id"]),
            out=PlanOut.of,
        )
    after = pagination.decode(cursor, pagination.moment, uuid.UUID)
    rows = await repository.list_plans(
        conn, client_id, limit=limit + 1, after=after, status=status, no_copy_since=no_copy_since
    )
    return pagination.Page[PlanOut].of(
        rows, limit, key=lambda r: (r["created_at"], r["id"]), out=PlanOut.of
    )


@router.get("/v1/plans/{plan_id}", responses=problems(errors.PlanNotFound))
async def get_plan(
    plan_id: uuid.UUID, conn: Tx, who: Principal = require_scopes("backups:read")
) -> PlanOut:
    return PlanOut.of(await plans.get_plan(conn, plan_id))


@router.patch(
    "/v1/plans/{plan_id}",
    responses=problems(errors.PlanNotFound, errors.PlanNotEditable, errors.DuplicateSourceName),
)
async def edit_plan(
    plan_id: uuid.UUID,
    body: PlanPatch,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("backups:write"),
) -> PlanOut:
    """Edit the sources (databases and the way to dump them, the PARTAGE folder) or the
    schedule (daily start, Indian/Reunion time)."""
    changes = {
        name: value
        for name, value in body.model_dump(exclude_unset=True, mode="json").items()
        if value is not None or name == "share_path"  # only the share may be unset
    }
    if "daily_at" in changes:
        changes["daily_at"] = body.daily_at
    if "databases" in changes:
        names = [d["name"] for d in changes["databases"]]
        if len(set(names)) != len(names):
            raise errors.DuplicateSourceName("two database sources have the same name")
    before = PlanOut.of(await plans.get_plan(conn, plan_id))
    after = PlanOut.of(await plans.edit_plan(conn, plan_id, changes))
    fields = set(changes)
    await audit.record(
        conn,
        actor,
        "plan.edited",
        target_type="plan",
        target_id=plan_id,
        client_id=after.client_id,
        before=before.model_dump(mode="json", include=fields),
        after=after.model_dump(mode="json", include=fields),
    )
    return after


@router.post(
    "/v1/plans/{plan_id}/enrolment-tokens",
    status_code=201,
    responses=problems(errors.PlanNotFound, errors.PlanNotEnrollable),
)
async def new_enrolment_token(
    plan_id: uuid.UUID,
    conn: Tx,
    rt: BackupRuntimeDep,
    actor: audit.ActorDep,
    who: Principal = require_scopes("backups:write"),
) -> EnrolmentTokenOut:
    token, expires_at = await plans.issue_enrolment_token(conn, rt.context, plan_id, who.sub)
    # the token itself (a credential) stays out of the trail
    await audit.record(
        conn,
        actor,
        "plan.enrolment_token_issued",
        target_type="plan",
        target_id=plan_id,
        detail={"expires_at": expires_at},
    )
    return EnrolmentTokenOut(token=token, expires_at=expires_at, plan_id=plan_id)


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


@router.get("/v1/alerts", responses=problems(pagination.InvalidCursor))
async def list_alerts(
    conn: Tx,
    client_id: uuid.UUID | None = None,
    plan_id: uuid.UUID | None = None,
    open_only: bool = False,
    limit: pagination.Limit = pagination.DEFAULT_LIMIT,
    cursor: pagination.Cursor = None,
    who: Principal = require_scopes("backups:read"),
) -> pagination.Page[AlertOut]:
    """Missed or failed copies, failed checks, repositories over quota (K2), newest first."""
    before = pagination.decode(cursor, pagination.moment, uuid.UUID)
    rows = await repository.list_alerts(
        conn,
        client_id=client_id,
        plan_id=plan_id,
        open_only=open_only,
        limit=limit + 1,
        before=before,
    )
    return pagination.Page[AlertOut].of(
        rows,
        limit,
        key=lambda r: (r["raised_at"], r["id"]),
        out=AlertOut.of,
    )


@router.post(
    "/v1/plans/{plan_id}/exports",
    status_code=202,
    responses=problems(errors.PlanNotFound, errors.CopiesDestroyed),
)
async def request_export(
    plan_id: uuid.UUID,
    conn: Tx,
    actor: audit.ActorDep,
    who: Principal = require_scopes("backups:export"),
) -> ExportOut:
    """A full export of the latest copy for the client (K3), produced by a worker."""
    export = ExportOut.of(await exports.request_export(conn, plan_id, who.sub))
    await audit.record(
        conn,
        actor,
        "export.requested",
        target_type="export",
        target_id=export.id,
        detail={"plan_id": plan_id},
    )
    return export


@router.get("/v1/exports/{export_id}", responses=problems(errors.ExportNotFound))
async def get_export(
    export_id: uuid.UUID, conn: Tx, who: Principal = require_scopes("backups:read")
) -> ExportOut:
    return ExportOut.of(await exports.get_export(conn, export_id))


@router.get(
    "/v1/exports/{export_id}/archive",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-tar": {}}},
        **problems(errors.ExportNotFound, errors.ExportNotReady),
    },
)
async def download_export(
    export_id: uuid.UUID,
    conn: Tx,
    rt: BackupRuntimeDep,
    actor: audit.ActorDep,
    who: Principal = require_scopes("backups:export"),
) -> StreamingResponse:
    """The archive, opened chunk by chunk as it is sent (it is sealed on disk). Each download
    is audited (O3: health data leaving the platform), committed before the first byte."""
    row = await exports.get_export(conn, export_id)
    if row["status"] != "ready":
        raise errors.ExportNotReady(f"the export is {row['status']}")
    await audit.record(
        conn,
        actor,
        "export.downloaded",
        target_type="export",
        target_id=export_id,
        detail={"plan_id": row["plan_id"], "size_bytes": row["size_bytes"]},
    )
    chunks = exports.read_archive(rt.context, row["plan_id"], export_id)
    headers = {"Content-Disposition": f'attachment; filename="export-{export_id}.tar"'}
    if row["size_bytes"] is not None:
        headers["Content-Length"] = str(row["size_bytes"])
    return StreamingResponse(
        iterate_in_threadpool(chunks), media_type="application/x-tar", headers=headers
    )
