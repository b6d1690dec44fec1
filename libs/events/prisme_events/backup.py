"""Events published by backup-svc (stream BACKUPS)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal

from .base import Event


class BackupEvent(Event):
    source: ClassVar[str] = "backup-svc"
    # v2: ``version``, the aggregate's version, on every event (DESIGN §3)
    schema_version: ClassVar[int] = 2

    plan_id: uuid.UUID
    client_id: uuid.UUID

    def aggregate_id(self) -> str:
        return str(self.plan_id)


class BackupSnapshotCompleted(BackupEvent):
    """A daily copy completed and was recorded (K1)."""

    subject: ClassVar[str] = "backup.snapshot_completed"
    snapshot_id: str
    bytes_added: int
    total_bytes: int


class BackupMissed(BackupEvent):
    """No good copy for a scheduled day (K2)."""

    subject: ClassVar[str] = "backup.missed"
    day: date
    reason: str


class BackupCheckFailed(BackupEvent):
    """An integrity check or a test restore failed (K2)."""

    subject: ClassVar[str] = "backup.check_failed"
    detail: str
    check: Literal["integrity", "restore", "quota"] = "integrity"
    snapshot_id: str | None = None


class BackupPurged(BackupEvent):
    """The repository was destroyed after the 30-day history ran out (K3)."""

    subject: ClassVar[str] = "backup.purged"
    snapshots: int = 0
