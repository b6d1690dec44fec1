"""Request and response bodies of backup-svc's operator API (never the table rows)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Literal

import asyncpg
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from .agent.protocol import DatabaseSourceSpec, LocalTime, Text

PlanStatus = Literal["active", "ended", "purged"]


class PlanOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    client_name: str
    contract_id: uuid.UUID
    status: PlanStatus
    databases: list[DatabaseSourceSpec]
    share_path: str | None
    daily_at: time = Field(description="Daily start, Indian/Reunion time")
    timezone: str = "Indian/Reunion"
    grace_minutes: int
    quota_bytes: int
    history_days: int
    check_parts: int
    restore_every_days: int
    restore_sample: int
    repository_location: str = Field(description="Where backup-svc reaches the repository")
    repository_user: str = Field(description="The plan's user on the repository server")
    repository_bytes: int | None = Field(description="Measured by the last maintenance")
    over_quota: bool = Field(description="K1: no new copy is accepted while true")
    expected_from: date
    last_day: date | None
    ended_at: datetime | None
    purge_after: datetime | None
    purged_at: datetime | None
    last_success_at: datetime | None = None

    @classmethod
    def of(cls, row: asyncpg.Record) -> PlanOut:
        """The plan as the API shows it: the repository's sealed password and the user's
        hash stay in the table."""
        return cls(
            id=row["id"],
            client_id=row["client_id"],
            client_name=row["client_name"],
            contract_id=row["contract_id"],
            status=row["status"],
            databases=[DatabaseSourceSpec.model_validate(d) for d in row["databases"]],
            share_path=row["share_path"],
            daily_at=row["daily_at"],
            grace_minutes=row["grace_minutes"],
            quota_bytes=row["quota_bytes"],
            history_days=row["history_days"],
            check_parts=row["check_parts"],
            restore_every_days=row["restore_every_days"],
            restore_sample=row["restore_sample"],
            repository_location=row["repository_location"],
            repository_user=row["repository_user"],
            repository_bytes=row["repository_bytes"],
            over_quota=row["over_quota"],
            expected_from=row["expected_from"],
            last_day=row["last_day"],
            ended_at=row["ended_at"],
            purge_after=row["purge_after"],
            purged_at=row["purged_at"],
            last_success_at=row.get("last_success_at"),
        )


class PlanPatch(BaseModel):
    """Operators edit the sources and the schedule (K1)."""

    model_config = ConfigDict(extra="forbid")

    databases: list[DatabaseSourceSpec] | None = Field(
        default=None,
        description="Names of databases listed in the agent's local configuration; how to "
        "reach and dump them stays on the practice's server",
    )
    quota_bytes: int | None = Field(default=None, ge=1, description="K1 quota (default 1 TB)")
    share_path: Text | None = Field(default=None, min_length=1, max_length=1000)
    daily_at: LocalTime | None = None
    grace_minutes: int | None = Field(default=None, ge=0, le=1440)
    check_parts: int | None = Field(default=None, ge=1, le=365)
    restore_every_days: int | None = Field(default=None, ge=1, le=365)
    restore_sample: int | None = Field(default=None, ge=1, le=1000)


class EnrolmentTokenOut(BaseModel):
    token: str = Field(description="Shown once; give it to the agent's installer")
    expires_at: datetime
    plan_id: uuid.UUID


class SnapshotOut(BaseModel):
    snapshot_id: str
    taken_at: datetime
    bytes_added: int
    total_bytes: int
    files: int

    @classmethod
    def of(cls, row: asyncpg.Record) -> SnapshotOut:
        return cls(
            snapshot_id=row["snapshot_id"],
            taken_at=row["taken_at"],
            bytes_added=row["bytes_added"],
            total_bytes=row["total_bytes"],
            files=row["files"],
        )


class RunOut(BaseModel):
    id: uuid.UUID
    agent_id: uuid.UUID
    day: date
    started_at: datetime
    finished_at: datetime
    status: Literal["succeeded", "failed"]
    error: str | None
    snapshot_id: str | None
    bytes_added: int
    total_bytes: int
    files: int
    repository_bytes: int | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> RunOut:
        return cls(
            id=row["id"],
            agent_id=row["agent_id"],
            day=row["day"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            status=row["status"],
            error=row["error"],
            snapshot_id=row["snapshot_id"],
            bytes_added=row["bytes_added"],
            total_bytes=row["total_bytes"],
            files=row["files"],
            repository_bytes=row["repository_bytes"],
        )


class CheckOut(BaseModel):
    id: uuid.UUID
    run_id: uuid.UUID | None
    kind: Literal["integrity", "restore"]
    ok: bool
    subset: str | None
    snapshot_id: str | None
    detail: str
    checked_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> CheckOut:
        return cls(
            id=row["id"],
            run_id=row["run_id"],
            kind=row["kind"],
            ok=row["ok"],
            subset=row["subset"],
            snapshot_id=row["snapshot_id"],
            detail=row["detail"],
            checked_at=row["checked_at"],
        )


class AlertOut(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    client_id: uuid.UUID
    kind: Literal["missed", "failed", "check_failed", "over_quota"]
    day: date | None
    detail: str
    raised_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> AlertOut:
        return cls(
            id=row["id"],
            plan_id=row["plan_id"],
            client_id=row["client_id"],
            kind=row["kind"],
            day=row["day"],
            detail=row["detail"],
            raised_at=row["raised_at"],
            resolved_at=row["resolved_at"],
        )


class AgentOut(BaseModel):
    id: uuid.UUID
    hostname: str
    status: Literal["active", "revoked"]
    enrolled_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> AgentOut:
        return cls(
            id=row["id"],
            hostname=row["hostname"],
            status=row["status"],
            enrolled_at=row["enrolled_at"],
            revoked_at=row["revoked_at"],
            last_seen_at=row["last_seen_at"],
        )


class ExportOut(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    status: Literal["pending", "running", "ready", "failed", "purged"]
    requested_by: str
    requested_at: datetime
    finished_at: datetime | None
    snapshot_id: str | None
    size_bytes: int | None
    error: str | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> ExportOut:
        return cls(
            id=row["id"],
            plan_id=row["plan_id"],
            status=row["status"],
            requested_by=row["requested_by"],
            requested_at=row["requested_at"],
            finished_at=row["finished_at"],
            snapshot_id=row["snapshot_id"],
            size_bytes=row["size_bytes"],
            error=row["error"],
        )


class PurgeOut(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    client_id: uuid.UUID
    snapshots: int
    purged_at: AwareDatetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> PurgeOut:
        return cls(
            id=row["id"],
            plan_id=row["plan_id"],
            client_id=row["client_id"],
            snapshots=row["snapshots"],
            purged_at=row["purged_at"],
        )
