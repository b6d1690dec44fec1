"""Routes of the exports (K3): requested, read, downloaded (each download audited)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from prisme_chassis import audit
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from starlette.concurrency import iterate_in_threadpool

from .. import errors
from ..runtime import BackupRuntimeDep
from ..schemas import (
    ExportOut,
)
from ..service import exports

router = APIRouter(tags=["backups"])


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
