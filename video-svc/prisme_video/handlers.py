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
                ContractEnded: on_contract_event,
            },
        )
    ]


async def on_contract_event(
    conn: asyncpg.Connection, event: ContractActivated | ContractAmended | ContractEnded
) -> None:
    """V3: learn the engagement's end; ``contract.ended`` revokes every link at once."""
    await sharing.apply_contract_event(conn, event)
