"""Bus subscriptions of video-svc, declared in one list. Handlers are thin (STYLE.md)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from prisme_chassis.bus import Subscription
from prisme_events import ContractActivated, ContractAmended, ContractEnded

from . import sharing
from .context import VideoRuntime


def subscriptions(rt: VideoRuntime) -> Sequence[Subscription]:
    return [
        Subscription(
            durable="video-contracts",
            stream="CONTRACTS",
            handlers={
                ContractActivated: on_contract_event,
                ContractAmended: on_contract_event,
            },
            # contract.ended set-based: 10,000 of them at year-end (P2)
            batch_handlers={ContractEnded: on_contracts_ended},
        )
    ]


async def on_contract_event(
    conn: asyncpg.Connection, event: ContractActivated | ContractAmended
) -> None:
    """V3: learn the engagement's end, which bounds the links."""
    await sharing.apply_contract_event(conn, event)


async def on_contracts_ended(conn: asyncpg.Connection, events: Sequence[ContractEnded]) -> None:
    """V3: every link of an ended contract dies with it."""
    await sharing.contracts_ended(conn, events)
