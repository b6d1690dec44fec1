"""Routes of the backup plans (K1): the list, one plan, its sources and schedule, an agent's
enrolment token."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from prisme_chassis import audit, pagination
from prisme_chassis.app import Tx
from prisme_chassis.auth import Principal, require_scopes
from prisme_chassis.errors import problems
from prisme_chassis.wire import IsoDatetime

from .. import errors, repository
from ..runtime import BackupRuntimeDep
from ..schemas import (
    EnrolmentTokenOut,
    PlanOut,
    PlanPatch,
    PlanStatus,
)
from ..service import plans

router = APIRouter(tags=["backups"])


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
