"""Bus subscriptions of backup-svc, declared in one list."""

from __future__ import annotations

import asyncpg
from prisme_chassis.bus import Subscription
from prisme_events import ContractActivated, ContractCancelled, ContractEnded

from .runtime import BackupRuntime
from .service import plans


def subscriptions(rt: BackupRuntime) -> list[Subscription]:
    ctx = rt.context

    async def on_activated(conn: asyncpg.Connection, event: ContractActivated) -> None:
        await plans.on_contract_activated(conn, ctx, event)

    async def on_ended(conn: asyncpg.Connection, event: ContractEnded) -> None:
        await plans.on_contract_ended(conn, ctx, event)

    async def on_cancelled(conn: asyncpg.Connection, event: ContractCancelled) -> None:
        await plans.on_contract_cancelled(conn, ctx, event)

    return [
        Subscription(
            durable="backup-contracts",
            stream="CONTRACTS",
            handlers={
                ContractActivated: on_activated,
                ContractEnded: on_ended,
                ContractCancelled: on_cancelled,
            },
        )
    ]
