"""Bus subscriptions of licence-svc, declared in one list. Each handler is one service call."""

from __future__ import annotations

from collections.abc import Sequence
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

    async def on_ended(conn: asyncpg.Connection, events: Sequence[ContractEnded]) -> None:
        await service.contracts_ended(conn, events)

    async def on_cancelled(conn: asyncpg.Connection, event: ContractCancelled) -> None:
        await service.contract_cancelled(conn, event)

    handlers: dict[Any, Any] = {
        ContractActivated: on_activated,
        ContractAmended: on_amended,
        ContractCancelled: on_cancelled,
    }
    # contract.ended set-based: 10,000 of them at year-end (P2)
    batch: dict[Any, Any] = {ContractEnded: on_ended}
    return [
        Subscription(
            durable="licence-contracts",
            stream="CONTRACTS",
            handlers=handlers,
            batch_handlers=batch,
        )
    ]
