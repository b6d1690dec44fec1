"""The wire protocol between the agent and backup-svc (the agent-facing routes)."""

from __future__ import annotations

import re
import uuid
from datetime import date, time
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

_PASSWORD_IN_CONNINFO = re.compile(r"(?i)(\bpassword\s*=|://[^/@\s]*:[^/@\s]+@)")


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it as bad input instead of failing on insert.
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


def _naive_time(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("give the local Indian/Reunion time, without an offset")
    return value


LocalTime = Annotated[time, AfterValidator(_naive_time)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DatabaseSourceSpec(_Wire):
    """A business-software database and the way to dump it."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    engine: Literal["postgresql", "command"]
    conninfo: Text | None = Field(
        default=None, description="libpq connection string, without the password"
    )
    command: list[Text] = Field(
        default_factory=list,
        description="argv of the dump command; {output} is replaced by the dump file, "
        "otherwise standard output is the dump",
    )
    extension: str = Field(default="dump", pattern=r"^[A-Za-z0-9]{1,10}$")

    @model_validator(mode="after")
    def _complete(self) -> DatabaseSourceSpec:
        if self.engine == "postgresql":
            if not self.conninfo:
                raise ValueError("a postgresql source needs its conninfo")
            # Passwords stay on the practice's server (agent configuration), never in the plan.
            if _PASSWORD_IN_CONNINFO.search(self.conninfo):
                raise ValueError("the conninfo must not carry a password")
        elif not self.command:
            raise ValueError("a command source needs its command")
        return self


class RepositorySpec(_Wire):
    location: str
    password: str = Field(repr=False)
    env: dict[str, str] = Field(default_factory=dict, repr=False)


class AgentPlan(_Wire):
    plan_id: uuid.UUID
    client_id: uuid.UUID
    databases: list[DatabaseSourceSpec]
    share_path: str | None
    daily_at: time
    timezone: str
    history_days: int
    quota_bytes: int
    check_parts: int
    restore_every_days: int
    restore_sample: int
    repository: RepositorySpec


class EnrolRequest(_Wire):
    token: Text = Field(min_length=16, max_length=200)
    hostname: Text = Field(min_length=1, max_length=200)


class EnrolResponse(_Wire):
    agent_id: uuid.UUID
    plan_id: uuid.UUID
    credential: str = Field(repr=False, description="Shown once; the service keeps a hash")


class RunReport(_Wire):
    report_id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        description="Chosen by the agent; the run's id. Re-sending a report changes nothing.",
    )
    day: date = Field(description="The Réunion day this copy is for")
    started_at: AwareDatetime
    finished_at: AwareDatetime
    status: Literal["succeeded", "failed"]
    error: Text | None = Field(default=None, max_length=4000)
    snapshot_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8,64}$")
    snapshot_time: AwareDatetime | None = None
    bytes_added: int = Field(default=0, ge=0)
    total_bytes: int = Field(default=0, ge=0)
    files: int = Field(default=0, ge=0)
    repository_bytes: int | None = Field(default=None, ge=0)
    forgotten: list[str] = Field(default_factory=list)


class RunAccepted(_Wire):
    run_id: uuid.UUID


class CheckReport(_Wire):
    report_id: uuid.UUID = Field(
        default_factory=uuid.uuid4, description="Chosen by the agent; re-sending changes nothing"
    )
    run_id: uuid.UUID | None = None
    kind: Literal["integrity", "restore"]
    ok: bool
    subset: Text | None = Field(default=None, max_length=20)
    snapshot_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8,64}$")
    detail: Text = Field(default="", max_length=4000)
    checked_at: AwareDatetime
