"""Events published by licence-svc (stream LICENCES). Never carries a password (L1)."""

from __future__ import annotations

import uuid
from typing import ClassVar

from .base import Event


class LicenceEvent(Event):
    source: ClassVar[str] = "licence-svc"
    # v2: ``version``, the aggregate's version, on every event (DESIGN §3)
    schema_version: ClassVar[int] = 2

    account_id: uuid.UUID
    client_id: uuid.UUID
    contract_id: uuid.UUID
    user_id: uuid.UUID
    upn: str
    sku: str

    def aggregate_id(self) -> str:
        return str(self.account_id)


class LicenceProvisioned(LicenceEvent):
    """A Microsoft 365 account was created (or found) and licensed (L1, L2)."""

    subject: ClassVar[str] = "licence.provisioned"


class LicenceRevoked(LicenceEvent):
    """An account was disabled, its sessions revoked, unlicensed and soft-deleted (L3)."""

    subject: ClassVar[str] = "licence.revoked"


class LicenceFailed(LicenceEvent):
    """Provisioning or revocation could not complete (e.g. no free seat)."""

    subject: ClassVar[str] = "licence.failed"
    reason: str
