"""backup-svc's typed runtime: its settings and its context (``Backups``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from prisme_chassis.app import Resources, Runtime, runtime_dependency

from .service.context import Backups
from .settings import BackupSettings


async def build_context(resources: Resources[BackupSettings]) -> Backups:
    return Backups.from_settings(resources.settings)


BackupRuntime = Runtime[BackupSettings, Backups]
#: What backup-svc's routes declare to receive the typed runtime.
BackupRuntimeDep = Annotated[BackupRuntime, Depends(runtime_dependency(BackupSettings, Backups))]
