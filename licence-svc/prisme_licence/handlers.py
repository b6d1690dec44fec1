"""Bus subscriptions of licence-svc, declared in one list. Each handler is one service call."""

from __future__ import annotations

from typing import Any

import asyncpg
from prisme_chassis.bus import Subscription
from prisme_events import ContractActivated, ContractAmended, ContractCancelled, ContractEnded

from . import service
from .context import LicenceRuntime


def subscriptions(rt: LicenceRuntime) -> list[Subscription]:
    settings = rt.settings

    async def on_activated(conn: asyncpg.Connection, event: ContractActivated) -> None:
        await service.contract_activated(conn, settings, event)

    async def on_amended(conn: asyncpg.Connection, event: ContractAmended) -> None:
        await service.contract_amended(conn, settings, event)

    async def on_ended(conn: asyncpg.Connection, event: ContractEnded) -> None:
        await service.contract_ended(conn, settings, event)

    async def on_cancelled(conn: asyncpg.Connection, event: ContractCancelled) -> None:
        await service.contract_cancelled(conn, event)

    handlers: dict[Any, Any] = {
        ContractActivated: on_activated,
        ContractAmended: on_amended,
        ContractEnded: on_ended,
        ContractCancelled: on_cancelled,
    }
    return [Subscription(durable="licence-contracts", stream="CONTRACTS", handlers=handlers)]
