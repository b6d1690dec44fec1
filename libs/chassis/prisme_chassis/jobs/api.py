"""The operational routes of the job queue, served by every service that binds job kinds.

``GET /v1/jobs?state=&kind=&limit=&cursor=`` lists jobs newest first, a page at a time
(``next_cursor`` is given back as ``cursor`` for the next page); ``POST /v1/jobs/{id}/retry``
puts a dead job back in the queue with fresh attempts. Reading asks ``<area>:read``, retrying
``<area>:write`` for the service's scope area (``admin`` grants both).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, cast

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from .. import audit, pagination
from ..auth import Principal, require_scopes
from ..errors import Conflict, NotFound, problems
from . import repository as repo
from .model import JobState, JobView


class JobNotDead(Conflict):
    """Only a dead job is put back in the queue; a queued, running or finished one is not."""

    code = "job_not_dead"
    title = "Only a dead job can be retried"


class JobOut(BaseModel):
    """A job of the durable queue (its payload stays inside the service)."""

    id: int
    kind: str
    key: str = Field(description="idempotency key, built from domain ids")
    state: JobState
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def _out(view: JobView) -> JobOut:
    return JobOut(
        id=view.id,
        kind=view.kind,
        key=view.key,
        state=view.state,
        attempts=view.attempts,
        max_attempts=view.max_attempts,
        next_attempt_at=view.next_attempt_at,
        last_error=view.last_error,
        created_at=view.created_at,
        updated_at=view.updated_at,
        finished_at=view.finished_at,
    )


async def _connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    pool: asyncpg.Pool = request.app.state.runtime.pool
    async with pool.acquire() as conn, conn.transaction():
        yield cast(asyncpg.Connection, conn)


Conn = Annotated[asyncpg.Connection, Depends(_connection, scope="function")]


def jobs_router(area: str | None) -> APIRouter:
    """The routes, guarded by ``<area>:read`` / ``<area>:write`` (``admin`` when no area)."""
    read = f"{area}:read" if area else "admin"
    write = f"{area}:write" if area else "admin"
    router = APIRouter(tags=["jobs"])

    @router.get("/v1/jobs", responses=problems(pagination.InvalidCursor))
    async def list_jobs(
        conn: Conn,
        state: JobState | None = None,
        kind: Annotated[str | None, Query(max_length=200)] = None,
        limit: pagination.Limit = pagination.DEFAULT_LIMIT,
        cursor: pagination.Cursor = None,
        who: Principal = require_scopes(read),
    ) -> pagination.Page[JobOut]:
        """Jobs of this service, newest first (DESIGN §3: dead jobs are shown and retried)."""
        after = pagination.decode(cursor, pagination.int64)
        views = await repo.page(
            conn, state=state, kind=kind, after_id=after[0] if after else None, limit=limit + 1
        )
        return pagination.Page[JobOut].of(views, limit, key=lambda v: (v.id,), out=_out)

    @router.post("/v1/jobs/{job_id}/retry", responses=problems(JobNotDead))
    async def retry_job(
        conn: Conn,
        job_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
        actor: audit.ActorDep,
        who: Principal = require_scopes(write),
    ) -> JobOut:
        """Put a dead job back in the queue with all its attempts; it runs again soon."""
        view = await repo.retry_dead(conn, job_id)
        if view is not None:
            await audit.record(
                conn,
                actor,
                "job.retried",
                target_type="job",
                target_id=view.id,
                detail={"kind": view.kind, "key": view.key},
            )
            return _out(view)
        existing = await repo.get(conn, job_id)
        if existing is None:
            raise NotFound(f"no job {job_id}")
        raise JobNotDead(f"job {job_id} is {existing.state.value}", state=existing.state.value)

    return router
