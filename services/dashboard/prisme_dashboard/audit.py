"""The dashboard's audit trail (O3): who, what, target, from where, why — never a secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from . import repository as repo


@dataclass(frozen=True)
class Actor:
    """Who acts: an operator (id and name), or the system / command line (``id`` None)."""

    id: str | None
    name: str | None
    address: str | None = None
    request_id: str | None = None


SYSTEM = Actor(id=None, name="système")


async def record(
    conn: asyncpg.Connection,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object = None,
    reason: str | None = None,
    **detail: Any,
) -> None:
    """One audit row in the caller's transaction; ``detail`` holds facts, never secrets."""
    await repo.insert_audit(
        conn,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        address=actor.address,
        request_id=actor.request_id,
        reason=reason,
        detail={
            key: value if isinstance(value, (int, bool)) or value is None else str(value)
            for key, value in detail.items()
        },
    )
