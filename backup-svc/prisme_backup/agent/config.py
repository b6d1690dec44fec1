"""The agent's local configuration file (JSON, mode 0600): server, credentials, tools, paths,
and the databases this host lets the agent dump.

The file is written by the practice's administrator on the practice's server; backup-svc never
sees it. A plan names databases; only those listed here can be dumped, the way written here
(DESIGN.md §7: the server never sends a command line, the passwords never leave this host).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from .protocol import SOURCE_NAME

_PASSWORD_IN_CONNINFO = re.compile(r"(?i)(\bpassword\s*=|://[^/@\s]*:[^/@\s]+@)")


class LocalDatabase(BaseModel):
    """One database of the practice's business software, as this host reaches it.

    ``engine`` is ``postgresql`` (dumped by ``pg_dump``, the tool configured here, reaching
    ``conninfo`` with ``password`` in ``PGPASSWORD``) or ``command`` (``command`` is argv written
    by the administrator of this host; ``{output}`` in it is replaced by the dump file,
    otherwise its standard output is the dump; ``password`` is in ``PRISME_DB_PASSWORD``)."""

    name: str = Field(pattern=SOURCE_NAME)
    engine: Literal["postgresql", "command"]
    conninfo: str | None = Field(default=None, description="libpq connection, no password")
    pg_dump: str | None = Field(default=None, description="pg_dump of this engine's version")
    command: list[str] = Field(default_factory=list)
    extension: str = Field(default="dump", pattern=r"^[A-Za-z0-9]{1,10}$")
    password: str | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _complete(self) -> LocalDatabase:
        if self.engine == "postgresql":
            if not self.conninfo:
                raise ValueError("a postgresql source needs its conninfo")
            if _PASSWORD_IN_CONNINFO.search(self.conninfo):
                raise ValueError("give the password in `password`, not in the conninfo")
        elif not self.command:
            raise ValueError("a command source needs its command")
        return self


class AgentConfig(BaseModel):
    server_url: str
    agent_id: str | None = None
    credential: str | None = Field(default=None, repr=False)
    #: the plan's user on the repository server, handed over once at enrolment
    repository_username: str | None = None
    repository_password: str | None = Field(default=None, repr=False)
    pg_dump: str = "pg_dump"
    restic: str = "restic"
    staging_dir: Path
    cache_dir: Path | None = None
    databases: list[LocalDatabase] = Field(default_factory=list)
    last_restore_day: str | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> AgentConfig:
        names = [d.name for d in self.databases]
        if len(names) != len(set(names)):
            raise ValueError("two local databases have the same name")
        return self

    @classmethod
    def load(cls, path: Path) -> AgentConfig:
        return cls.model_validate_json(path.read_text())

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(self.model_dump(mode="json"), indent=2))
        tmp.replace(path)
