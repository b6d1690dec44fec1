"""The agent's local configuration file (JSON, mode 0600): server, credentials, tools, paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field


class AgentConfig(BaseModel):
    server_url: str
    agent_id: str | None = None
    credential: str | None = Field(default=None, repr=False)
    pg_dump: str = "pg_dump"
    restic: str = "restic"
    staging_dir: Path
    cache_dir: Path | None = None
    db_passwords: dict[str, str] = Field(default_factory=dict, repr=False)
    last_restore_day: str | None = None

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
