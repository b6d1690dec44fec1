"""The contract projection: version gate, reordering, duplicates (property-tested)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from functools import reduce

from hypothesis import given
from hypothesis import strategies as st
from prisme_events import (
    Address,
    ClientSnapshot,
    ContractActivated,
    ContractAmended,
    ContractCancelled,
    ContractEligibilityChanged,
    ContractEnded,
    ContractEvent,
    Manager,
)
from prisme_events.projection import ContractProjection, project

CONTRACT, CLIENT = uuid.uuid4(), uuid.uuid4()
SNAPSHOT = ClientSnapshot(
    client_id=CLIENT,
    name="Cabinet",
    siren="123456782",
    address=Address(line1="1 rue", postal_code="97490", city="Sainte-Clotilde"),
    manager=Manager(name="Dr Payet", email="p@c.re", phone="0262"),
)
ENDS_AT = datetime(2026, 12, 31, 19, 59, 59, tzinfo=UTC)
COMMON = {"contract_id": CONTRACT, "client_id": CLIENT, "offer": "prisme", "year": 2026}


def activated(version: int = 2, postes: int = 5) -> ContractActivated:
    return ContractActivated(
        **COMMON,
        version=version,
        includes=["microsoft_365"],
        client=SNAPSHOT,
        start_date=date(2026, 3, 15),
        end_date=date(2026, 12, 31),
        ends_at=ENDS_AT,
        postes=postes,
        peripherals=0,
        users=[],
    )


def amended(version: int, postes: int) -> ContractAmended:
    return ContractAmended(
        **COMMON,
        version=version,
        includes=["microsoft_365", "cloud_backup"],
        amendment_id=uuid.uuid4(),
        intervention_id=uuid.uuid4(),
        effective_date=date(2026, 5, 1),
        changes=[],
        postes_before=postes - 1,
        postes=postes,
        peripherals=0,
        client=SNAPSHOT,
    )


def eligibility(version: int) -> ContractEligibilityChanged:
    return ContractEligibilityChanged(
        **COMMON,
        version=version,
        includes=["microsoft_365", "cloud_backup"],
        eligible=True,
        non_conforming=False,
        failures=[],
    )


def ended(version: int, postes: int = 9) -> ContractEnded:
    return ContractEnded(
        **COMMON,
        version=version,
        includes=["microsoft_365", "cloud_backup"],
        reason="cessation",
        effective_date=date(2026, 9, 30),
        ended_at=datetime(2026, 10, 1, tzinfo=UTC),
        postes=postes,
    )


def cancelled(version: int) -> ContractCancelled:
    return ContractCancelled(
        **COMMON,
        version=version,
        includes=["microsoft_365"],
        reason="withdrawn",
        cancelled_at=datetime(2026, 2, 1, tzinfo=UTC),
    )


def fold(events: list[ContractEvent]) -> ContractProjection | None:
    def step(state: ContractProjection | None, e: ContractEvent) -> ContractProjection | None:
        return project(state, e) or state

    return reduce(step, events, None)


@st.composite
def histories(draw: st.DrawFn) -> list[ContractEvent]:
    """A contract's real history: activated, then amendments/eligibility changes, then maybe
    an end; versions strictly increasing."""
    events: list[ContractEvent] = [activated(2, postes=draw(st.integers(0, 20)))]
    version = 2
    for kind in draw(st.lists(st.sampled_from(["amended", "eligibility"]), max_size=6)):
        version += 1
        if kind == "amended":
            events.append(amended(version, draw(st.integers(1, 30))))
        else:
            events.append(eligibility(version))
    if draw(st.booleans()):
        events.append(ended(version + 1, draw(st.integers(0, 30))))
    return events


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[ContractEvent], list[ContractEvent]]:
    """A history and one way the bus may deliver it: reordered, some events twice."""
    events = draw(histories())
    twice = draw(st.lists(st.sampled_from(events), max_size=len(events)))
    delivered = draw(st.permutations(events + twice))
    return events, delivered


@given(deliveries())
def test_any_order_and_duplication_projects_to_the_same_state(
    case: tuple[list[ContractEvent], list[ContractEvent]],
) -> None:
    in_order, delivered = case
    assert fold(delivered) == fold(in_order)


@given(deliveries())
def test_final_state_carries_the_newest_facts(
    case: tuple[list[ContractEvent], list[ContractEvent]],
) -> None:
    in_order, delivered = case
    state = fold(delivered)
    assert state is not None
    last = in_order[-1]
    assert state.version == last.version
    assert state.includes == tuple(last.includes)
    with_postes = [
        e for e in in_order if isinstance(e, ContractActivated | ContractAmended | ContractEnded)
    ]
    assert state.postes == with_postes[-1].postes
    assert state.activated
    assert state.ends_at == ENDS_AT
    assert state.status == ("ended" if isinstance(last, ContractEnded) else "active")


def test_duplicate_and_stale_events_are_ignored() -> None:
    state = fold([activated(2), amended(3, 6)])
    assert project(state, amended(3, 6)) is None
    assert project(state, activated(2)) is None
    assert project(None, activated(2)) is not None


def test_ended_before_activated_stays_ended_and_learns_the_activation_facts() -> None:
    first = project(None, ended(4, postes=7))
    assert first is not None
    assert first.status == "ended"
    assert not first.activated
    late = project(first, activated(2, postes=3))
    assert late is not None
    assert late.status == "ended"
    assert late.activated
    assert late.start_date == date(2026, 3, 15)
    assert late.postes == 7  # the end (v4) is newer than the activation (v2)
    assert late.version == 4
    assert project(late, amended(3, 5)) is None  # nothing newer to learn


def test_cancelled_draft_stays_cancelled() -> None:
    state = fold([cancelled(2), activated(1)])
    assert state is not None
    assert state.status == "cancelled"
    assert state.end_reason == "withdrawn"
    assert state.ended_at == datetime(2026, 2, 1, tzinfo=UTC)
