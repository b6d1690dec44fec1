"""Events published by the webhooks service (stream WEBHOOKS)."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from .base import Event


class WebhookEndpointDisabled(Event):
    """An integrator's endpoint was disabled by the platform: it answered 410 Gone, or every
    delivery to it failed for 5 days (DESIGN.md §4). Carries no URL and no secret."""

    subject: ClassVar[str] = "webhook.endpoint_disabled"
    source: ClassVar[str] = "webhooks"

    endpoint_id: uuid.UUID
    reason: Literal["gone", "failing"] = Field(
        description="gone: the receiver answered 410; failing: every attempt failed for 5 days"
    )
    failing_since: AwareDatetime | None = None

    def aggregate_id(self) -> str:
        return str(self.endpoint_id)
