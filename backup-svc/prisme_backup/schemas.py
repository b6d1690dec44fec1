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
        data = dict(row)
        data.pop("repository_password", None)
        data.pop("repository_user_hash", None)
        return cls.model_validate(data)


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


class CheckOut(BaseModel):
    id: uuid.UUID
    run_id: uuid.UUID | None
    kind: Literal["integrity", "restore"]
    ok: bool
    subset: str | None
    snapshot_id: str | None
    detail: str
    checked_at: datetime


class AlertOut(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    client_id: uuid.UUID
    kind: Literal["missed", "failed", "check_failed", "over_quota"]
    day: date | None
    detail: str
    raised_at: datetime
    resolved_at: datetime | None


class AgentOut(BaseModel):
    id: uuid.UUID
    hostname: str
    status: Literal["active", "revoked"]
    enrolled_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None


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


class PurgeOut(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    client_id: uuid.UUID
    snapshots: int
    purged_at: AwareDatetime
