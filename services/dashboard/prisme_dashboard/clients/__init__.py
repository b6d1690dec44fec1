"""Typed async clients of the platform's services, called as the signed-in operator.

A page gets them with ``services_for(request, visit.operator)`` (or the ``Services``
dependency) and calls, e.g., ``await svc.contracts.get_client(client_id)``; a refusal raises
:class:`ServiceProblem` (``type``, ``title``, ``detail``, ``errors``, ``field_errors()``).
One ``httpx.AsyncClient`` (connection pool) is shared by the whole dashboard; each page mints
one operator token (5 minutes) for all its calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from .backup import BackupClient
from .base import Json, ServiceClient, ServiceProblem, ServiceUnavailable
from .billing import BillingClient
from .contracts import ContractsClient
from .licence import LicenceClient
from .video import VideoClient
from .webhooks import WebhooksClient
from .year_end import ContractEndConsumer, YearEndEffects

if TYPE_CHECKING:
    from ..issuer import Issuer
    from ..operators import Operator
    from ..settings import DashboardSettings

__all__ = [
    "BackupClient",
    "BillingClient",
    "ContractEndConsumer",
    "ContractsClient",
    "Json",
    "LicenceClient",
    "ServiceClient",
    "ServiceProblem",
    "ServiceUnavailable",
    "Services",
    "VideoClient",
    "WebhooksClient",
    "YearEndEffects",
    "new_http_client",
]

#: a page waits this long for a service before showing « Service indisponible »
TIMEOUT = httpx.Timeout(15.0, connect=3.0)


def new_http_client() -> httpx.AsyncClient:
    """The dashboard's one connection pool towards the services."""
    return httpx.AsyncClient(
        timeout=TIMEOUT,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        follow_redirects=False,
    )


@dataclass(frozen=True)
class Services:
    """Every service, as one operator."""

    contracts: ContractsClient
    billing: BillingClient
    licence: LicenceClient
    video: VideoClient
    backup: BackupClient
    webhooks: WebhooksClient

    def each(self) -> list[ServiceClient]:
        """Every service, for what each of them serves alike (dead letters, jobs, audit)."""
        return [self.contracts, self.billing, self.licence, self.video, self.backup, self.webhooks]

    @classmethod
    def as_operator(
        cls,
        http: httpx.AsyncClient,
        settings: DashboardSettings,
        issuer: Issuer,
        operator: Operator,
    ) -> Services:
        token = issuer.for_operator(operator)
        return cls(
            contracts=ContractsClient(http, settings.contracts_url, token),
            billing=BillingClient(http, settings.billing_url, token),
            licence=LicenceClient(http, settings.licence_url, token),
            video=VideoClient(http, settings.video_url, token),
            backup=BackupClient(http, settings.backup_url, token),
            webhooks=WebhooksClient(http, settings.webhooks_url, token),
        )
