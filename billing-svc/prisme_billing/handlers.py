"""Bus subscriptions of billing-svc, declared in one list. Each handler is one service call."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from prisme_chassis.bus import Subscription
from prisme_events import (
    ClientCorrected,
    ContractActivated,
    ContractAmended,
    ContractEnded,
    InterventionRecorded,
)

from . import one_off, service
from .context import BillingRuntime


async def on_activated(conn: asyncpg.Connection, event: ContractActivated) -> None:
    await service.contract_activated(conn, event)


async def on_amended(conn: asyncpg.Connection, event: ContractAmended) -> None:
    await service.contract_amended(conn, event)


async def on_ended(conn: asyncpg.Connection, event: ContractEnded) -> None:
    await service.contract_ended(conn, event)


async def on_client_corrected(conn: asyncpg.Connection, event: ClientCorrected) -> None:
    await service.client_corrected(conn, event)


async def on_intervention(conn: asyncpg.Connection, event: InterventionRecorded) -> None:
    await one_off.intervention_recorded(conn, event)


def subscriptions(rt: BillingRuntime) -> Sequence[Subscription]:
    return [
        Subscription(
            durable="billing-contracts",
            stream="CONTRACTS",
            handlers={
                ContractActivated: on_activated,
                ContractAmended: on_amended,
                ContractEnded: on_ended,
                ClientCorrected: on_client_corrected,
                InterventionRecorded: on_intervention,
            },
        )
    ]
