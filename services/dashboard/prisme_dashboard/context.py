"""What the running dashboard holds besides a connection: its derived keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from prisme_chassis.app import Resources, Runtime, runtime_dependency

from . import sealing
from .settings import DashboardSettings


@dataclass(frozen=True)
class DashboardContext:
    #: signs the sign-in form's CSRF token
    login_key: bytes
    #: seals TOTP seeds at rest
    seal_key: bytes


def derive_context(settings: DashboardSettings) -> DashboardContext:
    secret = settings.secret_key_bytes()
    return DashboardContext(
        login_key=sealing.derive_key(secret, "prisme-dashboard/login-csrf"),
        seal_key=sealing.derive_key(secret, "prisme-dashboard/totp-seed"),
    )


async def build_context(resources: Resources[DashboardSettings]) -> DashboardContext:
    return derive_context(resources.settings)


DashboardRuntime = Runtime[DashboardSettings, DashboardContext]
DashboardRuntimeDep = Annotated[
    DashboardRuntime, Depends(runtime_dependency(DashboardSettings, DashboardContext))
]
