"""Catalogue events as their producers would publish them, for consumers' tests and bench/.

Every service's tests build contract events the same way from here; each keyword overrides one
fact. Defaults are a plausible practice of La Réunion with a contract for ``year``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from prisme_events import (
    Address,
    ClientSnapshot,
    ContractActivated,
    ContractAmended,
    ContractEnded,
    ContractUser,
    Manager,
)
from prisme_events.contract import Change, Role

PRISME_INCLUDES = ["microsoft_365", "cloud_backup", "video_recordings"]


def client_snapshot(
    client_id: uuid.UUID | None = None,
    *,
    name: str = "Cabinet médical des Lilas",
    siren: str = "552100554",
    city: str = "Saint-Pierre",
    postal_code: str = "97410",
    manager: str = "Dr Hoarau",
    email: str = "gerant@lilas.example",
) -> ClientSnapshot:
    return ClientSnapshot(
        client_id=client_id or uuid.uuid4(),
        name=name,
        siren=siren,
        address=Address(line1="3 rue des Lilas", postal_code=postal_code, city=city),
        manager=Manager(name=manager, email=email, phone="+262262000000"),
    )


def contract_users(
    n: int, names: Sequence[tuple[str, str]] = (("Marie", "Hoarau"),), role: Role = "assistant"
) -> list[ContractUser]:
    """``n`` users, cycling through ``names`` (e-mails ``u<i>@example.re``)."""
    cycle = list(names) * (n // len(names) + 1)
    return [
        ContractUser(
            user_id=uuid.uuid4(), first_name=f, last_name=last, email=f"u{i}@example.re", role=role
        )
        for i, (f, last) in enumerate(cycle[:n])
    ]


def contract_activated(
    *,
    contract_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    client: ClientSnapshot | None = None,
    version: int = 2,
    offer: str = "prisme",
    includes: Sequence[str] | None = None,
    year: int = 2026,
    start: date | None = None,
    ends_at: datetime | None = None,
    postes: int = 5,
    peripherals: int = 2,
    users: Sequence[ContractUser] = (),
    renewal_of: uuid.UUID | None = None,
) -> ContractActivated:
    """``contract.activated`` for ``year`` (from ``start``, 15 March by default)."""
    client = client or client_snapshot(client_id)
    start = start or date(year, 3, 15)
    return ContractActivated(
        contract_id=contract_id or uuid.uuid4(),
        client_id=client.client_id,
        version=version,
        offer=offer,
        includes=list(PRISME_INCLUDES if includes is None else includes),
        year=start.year,
        client=client,
        start_date=start,
        end_date=date(start.year, 12, 31),
        ends_at=ends_at or datetime(start.year, 12, 31, 19, 59, 59, tzinfo=UTC),
        postes=postes,
        peripherals=peripherals,
        users=list(users),
        renewal_of=renewal_of,
    )


def contract_amended(
    activated: ContractActivated,
    *,
    version: int,
    effective: date | None = None,
    postes_before: int | None = None,
    postes: int | None = None,
    users_added: Sequence[ContractUser] = (),
    users_removed: Sequence[uuid.UUID] = (),
    changes: Sequence[Change] = (),
) -> ContractAmended:
    """``contract.amended`` of ``activated`` (1 June of its year by default)."""
    return ContractAmended(
        contract_id=activated.contract_id,
        client_id=activated.client_id,
        version=version,
        offer=activated.offer,
        includes=activated.includes,
        year=activated.year,
        amendment_id=uuid.uuid4(),
        intervention_id=uuid.uuid4(),
        effective_date=effective or date(activated.year, 6, 1),
        changes=list(changes),
        postes_before=activated.postes if postes_before is None else postes_before,
        postes=activated.postes if postes is None else postes,
        peripherals=activated.peripherals,
        users_added=list(users_added),
        users_removed=list(users_removed),
        client=activated.client,
    )


def contract_ended(
    activated: ContractActivated,
    *,
    version: int,
    reason: Literal["year_end", "cessation"] = "year_end",
    effective: date | None = None,
    ended_at: datetime | None = None,
    postes: int | None = None,
    renewal: ContractActivated | None = None,
    renewal_includes: Sequence[str] | None = None,
    renewal_contract_id: uuid.UUID | None = None,
) -> ContractEnded:
    """``contract.ended`` of ``activated`` (its year's end by default; ``renewal`` names the
    next year's contract and what it includes, L3)."""
    return ContractEnded(
        contract_id=activated.contract_id,
        client_id=activated.client_id,
        version=version,
        offer=activated.offer,
        includes=activated.includes,
        year=activated.year,
        reason=reason,
        effective_date=effective or activated.end_date,
        ended_at=ended_at or activated.ends_at + timedelta(seconds=1),
        postes=activated.postes if postes is None else postes,
        renewal_contract_id=renewal.contract_id if renewal else renewal_contract_id,
        renewal_includes=list(
            renewal.includes if renewal and renewal_includes is None else renewal_includes or []
        ),
    )
