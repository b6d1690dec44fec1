"""Agent-facing routes, authenticated by the agent's own credentials (not platform JWTs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from prisme_chassis import audit
from prisme_chassis.app import Tx
from prisme_chassis.db import transaction
from prisme_chassis.errors import problems

from . import errors
from .agent.protocol import (
    AgentPlan,
    CheckReport,
    EnrolRequest,
    EnrolResponse,
    RunAccepted,
    RunReport,
)
from .runtime import BackupRuntimeDep
from .service import agents

router = APIRouter(tags=["agent"])


async def current_agent(
    conn: Tx, authorization: Annotated[str | None, Header()] = None
) -> agents.AgentIdentity:
    scheme, _, credential = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credential:
        raise errors.AgentCredentialsRefused("missing agent credentials")
    return await agents.authenticate(conn, credential.strip())


AgentDep = Annotated[agents.AgentIdentity, Depends(current_agent)]


@router.post(
    "/v1/agent/enrol",
    status_code=201,
    responses=problems(errors.EnrolmentTokenRefused, errors.RepositoryServerUnavailable),
)
async def enrol(body: EnrolRequest, rt: BackupRuntimeDep, request: Request) -> EnrolResponse:
    """Trade a one-time enrolment token for the agent's credential and the plan's user on the
    repository server (both returned once). Answered once the repository server knows the user:
    the users file is written after the commit, then the server is asked until it accepts."""
    async with transaction(rt.pool) as conn:
        enrolled = await agents.enrol(conn, rt.context, body.token, body.hostname)
        # the actor is the new agent (the token's holder); its credential stays out of the trail
        actor = audit.Actor(
            sub=f"agent:{enrolled.agent_id}",
            name=body.hostname,
            address=request.client.host if request.client else None,
        )
        await audit.record(
            conn, actor, "agent.enrolled", target_type="agent", target_id=enrolled.agent_id
        )
    await agents.finish_enrolment(rt.pool, rt.context, enrolled)
    return enrolled


@router.get(
    "/v1/agent/plan", responses=problems(errors.AgentCredentialsRefused, errors.PlanNotFound)
)
async def plan(conn: Tx, rt: BackupRuntimeDep, who: AgentDep) -> AgentPlan:
    """The plan and the repository (with its password) for this agent."""
    ctx = rt.context
    return await agents.plan_for_agent(conn, ctx, who)


@router.post(
    "/v1/agent/runs",
    status_code=201,
    responses=problems(
        errors.AgentCredentialsRefused,
        errors.PlanNotFound,
        errors.SnapshotRequired,
        errors.ReportOfAnotherAgent,
    ),
)
async def report_run(body: RunReport, conn: Tx, who: AgentDep) -> RunAccepted:
    return RunAccepted(run_id=await agents.report_run(conn, who, body))


@router.post(
    "/v1/agent/checks",
    status_code=201,
    responses=problems(
        errors.AgentCredentialsRefused,
        errors.PlanNotFound,
        errors.RunOfAnotherAgent,
        errors.ReportOfAnotherAgent,
    ),
)
async def report_check(body: CheckReport, conn: Tx, who: AgentDep) -> None:
    await agents.report_check(conn, who, body)
