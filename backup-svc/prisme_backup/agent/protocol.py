"""The wire protocol between the agent and backup-svc (the agent-facing routes)."""

from __future__ import annotations

import uuid
from datetime import date, time
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it as bad input instead of failing on insert.
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


# the pattern tells the OpenAPI what the validator refuses (R2: schema and validation agree)
Text = Annotated[str, Field(pattern=r"^[^\x00]*$"), AfterValidator(_no_nul)]


def _naive_time(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("give the local Indian/Reunion time, without an offset")
    return value


def _time_text(value: object) -> object:
    # pydantic would also read 3600 as 01:00:00; the wire spelling is "HH:MM[:SS]"
    if not isinstance(value, str | time):
        raise ValueError("give the time as HH:MM or HH:MM:SS")
    return value


LocalTime = Annotated[
    time,
    BeforeValidator(_time_text),
    AfterValidator(_naive_time),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "description": "local Indian/Reunion time, without an offset",
        }
    ),
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


SOURCE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class DatabaseSourceSpec(BaseModel):
    """A database the plan asks for, by the name the agent's local configuration gives it.

    How to reach and dump it (engine, local connection, tool, password) is known only to the
    agent's host (DESIGN.md §7): the server never sends a command line or a connection."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=SOURCE_NAME)


class RepositorySpec(_Wire):
    """The plan's repository as the agent reaches it: the repository server's URL for this
    plan (``rest:https://…/<user>/``, without credentials) and restic's encryption password.
    The storage credentials were handed to the agent once, at enrolment."""

    location: str
    password: str = Field(repr=False)


class RepositoryAccess(_Wire):
    """The plan's own user on the repository server (append-only, its repository only)."""

    username: str
    password: str = Field(repr=False)


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
    accepting: bool = Field(
        default=True,
        description="False while the plan is over its quota (K1): no new copy is taken",
    )


class EnrolRequest(_Wire):
    token: Text = Field(min_length=16, max_length=200)
    hostname: Text = Field(min_length=1, max_length=200)


class EnrolResponse(_Wire):
    agent_id: uuid.UUID
    plan_id: uuid.UUID
    credential: str = Field(repr=False, description="Shown once; the service keeps a hash")
    repository_access: RepositoryAccess = Field(
        repr=False, description="Shown once; the repository server keeps a bcrypt hash"
    )


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


class RunAccepted(_Wire):
    run_id: uuid.UUID


class CheckReport(_Wire):
    report_id: uuid.UUID = Field(
        default_factory=uuid.uuid4, description="Chosen by the agent; re-sending changes nothing"
    )
    run_id: uuid.UUID | None = None
    kind: Literal["restore"] = Field(
        description="The agent's test restore; integrity checks are backup-svc's own"
    )
    ok: bool
    subset: Text | None = Field(default=None, max_length=20)
    snapshot_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8,64}$")
    detail: Text = Field(default="", max_length=4000)
    checked_at: AwareDatetime
