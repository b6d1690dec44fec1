"""Failure switches, set through ``POST /_sandbox/switches``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Switches(BaseModel):
    """What the sandbox should get wrong next (see README, "Switches")."""

    decline_next_payments: int = Field(0, ge=0)
    decline_code: str = "generic_decline"
    fail_next_requests: int = Field(0, ge=0)
    fail_status: int = Field(500, ge=400, le=599)
    fail_mode: Literal["before", "after"] = "before"
    fail_path_prefix: str | None = None
    latency_ms: int = Field(0, ge=0, le=60_000)
    drop_webhooks: bool = False
    drop_next_webhooks: int = Field(0, ge=0)
    duplicate_webhooks: bool = False
    hold_webhooks: bool = False
    sepa_auto_settle_seconds: float | None = Field(None, ge=0)

    def take_decline(self) -> bool:
        if self.decline_next_payments > 0:
            self.decline_next_payments -= 1
            return True
        return False

    def take_failure(self, path: str) -> bool:
        if self.fail_next_requests <= 0:
            return False
        if self.fail_path_prefix and not path.startswith(self.fail_path_prefix):
            return False
        self.fail_next_requests -= 1
        return True

    def take_drop(self) -> bool:
        if self.drop_webhooks:
            return True
        if self.drop_next_webhooks > 0:
            self.drop_next_webhooks -= 1
            return True
        return False
