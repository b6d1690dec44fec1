"""The « Cabinet » filter of the lists that hold practices' ids (Licences, Sauvegardes): the
operator types a name, a SIREN, a city or an id; contracts-svc's search says which practice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ..clients import Json, ServiceProblem, Services


@dataclass(frozen=True)
class PracticeFilter:
    """What the filter's text names: one practice, several candidates, or why none."""

    text: str = ""
    client_id: uuid.UUID | None = None
    candidates: list[Json] = field(default_factory=list)
    #: shown beside the filter when it names no single practice (the list is then empty)
    note: str | None = None


def as_uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID((text or "").strip())
    except ValueError:
        return None


async def practice_filter(svc: Services, typed: str | None) -> PracticeFilter:
    """``typed``: an id, or a name, SIREN or city that only one practice matches."""
    text = (typed or "").strip()[:100]
    if not text:
        return PracticeFilter()
    if (by_id := as_uuid(text)) is not None:
        return PracticeFilter(text, by_id)
    try:
        found: list[Json] = (await svc.contracts.clients_page(q=text, limit=10))["items"]
    except ServiceProblem as problem:
        return PracticeFilter(text, note=problem.message)
    if len(found) == 1:
        return PracticeFilter(text, uuid.UUID(str(found[0]["id"])))
    if not found:
        return PracticeFilter(text, note=f"Aucun cabinet ne correspond à « {text} ».")
    return PracticeFilter(
        text,
        candidates=found,
        note=f"Plusieurs cabinets correspondent à « {text} » : choisissez-en un.",
    )
