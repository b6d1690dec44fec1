"""The contract as its consumers know it from ``contract.*`` events: one pure projection with
its version gate, used by billing, licence, video and backup (DESIGN §3).

Events arrive at least once and in any order (``contract.ended`` before ``contract.activated``,
an amendment twice). :func:`project` folds one event into the current state so that **any
permutation or duplication of a contract's events projects to the same final state**
(property-tested):

- ``version`` is the highest version seen;
- ``status`` is terminal (``ended``/``cancelled``) once a terminal event is seen, whatever comes
  later, the terminal event of the highest version deciding which; ``active`` otherwise;
- facts every event carries (offer, includes, year, client) come from the newest event;
- ``postes`` come from the newest event that carries them (``postes_version`` says which);
- facts only ``contract.activated`` carries (start date, ``ends_at``) are filled in whenever it
  arrives, even late;
- the end (when, why, which renewal) comes from the deciding terminal event.

It returns ``None`` when the event changes nothing (duplicate or stale): the caller writes
nothing. Pure: no I/O; each consumer reads its row, maps it to a :class:`ContractProjection`,
projects, and writes back what it keeps.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

from .contract import (
    ContractActivated,
    ContractAmended,
    ContractCancelled,
    ContractEnded,
    ContractEvent,
)

ContractStatus = Literal["active", "ended", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"ended", "cancelled"})


@dataclass(frozen=True)
class ContractProjection:
    contract_id: uuid.UUID
    client_id: uuid.UUID
    version: int
    status: ContractStatus
    year: int | None = None
    offer: str | None = None
    includes: tuple[str, ...] = ()
    postes: int | None = None
    postes_version: int = 0
    activated: bool = False  # contract.activated was seen
    start_date: date | None = None
    ends_at: datetime | None = None
    terminal_version: int = 0  # version of the terminal event that decided ``status``
    ended_at: datetime | None = None  # ended_at, or cancelled_at
    end_reason: str | None = None
    end_effective: date | None = None
    renewal_contract_id: uuid.UUID | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_stored(
        cls,
        contract_id: uuid.UUID,
        client_id: uuid.UUID,
        version: int,
        status: ContractStatus,
        **known: object,
    ) -> ContractProjection:
        """The projection of what a consumer stored (its own subset of the facts). The stored
        version stands for the versions that decided the terminal status and ``postes``: in a
        real history the end is the last event, and each consumer stores ``postes`` only from
        events that carry them."""
        terminal = version if status in TERMINAL else 0
        postes_version = version if known.get("postes") is not None else 0
        state = cls(contract_id, client_id, version, status)
        return replace(state, terminal_version=terminal, postes_version=postes_version, **known)  # type: ignore[arg-type]


def _postes(event: ContractEvent) -> int | None:
    if isinstance(event, ContractActivated | ContractAmended | ContractEnded):
        return event.postes
    return None


def project(state: ContractProjection | None, event: ContractEvent) -> ContractProjection | None:
    """The state after ``event``, or ``None`` if the event changes nothing (stale/duplicate)."""
    base = state or ContractProjection(
        contract_id=event.contract_id, client_id=event.client_id, version=0, status="active"
    )
    new = base
    if event.version > base.version:
        new = replace(
            new,
            version=event.version,
            client_id=event.client_id,
            year=event.year,
            offer=event.offer,
            includes=tuple(event.includes),
        )
    postes = _postes(event)
    if postes is not None and event.version > base.postes_version:
        new = replace(new, postes=postes, postes_version=event.version)
    if isinstance(event, ContractActivated) and not base.activated:
        new = replace(new, activated=True, start_date=event.start_date, ends_at=event.ends_at)
    if (
        isinstance(event, ContractEnded | ContractCancelled)
        and event.version > base.terminal_version
    ):
        if isinstance(event, ContractEnded):
            new = replace(
                new,
                status="ended",
                ended_at=event.ended_at,
                end_reason=event.reason,
                end_effective=event.effective_date,
                renewal_contract_id=event.renewal_contract_id,
            )
        else:
            new = replace(
                new,
                status="cancelled",
                ended_at=event.cancelled_at,
                end_reason=event.reason,
                end_effective=None,
                renewal_contract_id=None,
            )
        new = replace(new, terminal_version=event.version)
    if state is not None and new == state:
        return None
    return new
