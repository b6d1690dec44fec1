"""The year-end's progress as « Clôture de l'année » shows it (C2, issue 12): one line per
effect of the run, each with its counts and a bar, each complete on its own.

- Contrats terminés: contracts-svc's run (ended, remaining); complete once the run is done.
- Licences retirées, Liens vidéo révoqués, Facturation close: what licence-svc, video-svc and
  billing-svc answer on ``GET /v1/year-end/{year}``. Such a line is complete once the run is
  done, the service has processed as many ``contract.ended`` of the year as contracts-svc
  ended (``ended_total``, cessations included), and nothing is left to do.

Pure: no I/O. A service that did not answer gives an unavailable line (« indisponible »),
never complete, so the box keeps refreshing until it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..clients import YearEndEffects
from .render import number

#: the bar of a downstream line is in thousandths (its total is not known until every
#: contract.ended has arrived)
BAR_SCALE = 1000


@dataclass(frozen=True)
class Line:
    key: str  # contracts | licences | videos | billing
    label: str
    available: bool
    complete: bool
    text: str
    bar_value: int = 0
    bar_max: int = 1
    note: str | None = None


@dataclass(frozen=True)
class YearEndProgress:
    run: dict[str, Any] | None  # contracts-svc's answer, None when it did not answer
    lines: list[Line]

    @property
    def complete(self) -> bool:
        return all(line.complete for line in self.lines)

    def polls(self, failure: str | None) -> bool:
        """Refresh while a line is incomplete, except before a run that was refused (the
        failure is shown, nothing will move until the operator starts it again)."""
        if self.complete:
            return False
        return not (self.run is not None and self.run["status"] == "not_started" and failure)


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{number(count)} {word if count <= 1 else (many or word + 's')}"


def contracts_line(run: dict[str, Any] | None, note: str | None = None) -> Line:
    label = "Contrats terminés"
    if run is None:
        return Line("contracts", label, False, False, "indisponible", note=note)
    ended, remaining, batches = run["ended"], run["remaining"], run["batches"]
    total = ended + remaining
    done = run["status"] == "done"
    text = (
        f"{_plural(ended, 'contrat')} {'terminé' if ended <= 1 else 'terminés'}, "
        f"{_plural(remaining, 'restant')} ({_plural(batches, 'lot')})."
    )
    return Line(
        "contracts",
        label,
        True,
        done,
        text,
        bar_value=ended if total else int(done),
        bar_max=total or 1,
    )


@dataclass(frozen=True)
class _Wording:
    key: str
    label: str
    done: tuple[str, str]  # singular, plural
    remaining: tuple[str, str]
    failed: str | None  # None: every remaining one waits (said by ``remaining`` already)


_WORDING = {
    "licences": _Wording(
        "licences",
        "Licences retirées",
        ("licence retirée", "licences retirées"),
        ("à retirer", "à retirer"),
        "en échec : à relancer depuis Tâches (licences)",
    ),
    "videos": _Wording(
        "videos",
        "Liens vidéo révoqués",
        ("lien révoqué", "liens révoqués"),
        ("encore actif", "encore actifs"),
        "en échec",
    ),
    "billing": _Wording(
        "billing",
        "Facturation close",
        ("contrat clos", "contrats clos"),
        ("en attente d'un prix au barème", "en attente d'un prix au barème"),
        None,
    ),
}


def _word(count: int, forms: tuple[str, str]) -> str:
    return f"{number(count)} {forms[0] if count <= 1 else forms[1]}"


def effects_line(
    key: str,
    run: dict[str, Any] | None,
    effects: YearEndEffects | None,
    note: str | None = None,
) -> Line:
    """The line of one consumer of ``contract.ended`` (``key``: licences, videos, billing)."""
    wording = _WORDING[key]
    if effects is None:
        return Line(key, wording.label, False, False, "indisponible", note=note)
    expected = run["ended_total"] if run is not None else None
    seen = effects.contracts_ended
    text = f"{_word(effects.done, wording.done)}, {_word(effects.remaining, wording.remaining)}"
    if effects.failed and wording.failed:
        text += f" (dont {number(effects.failed)} {wording.failed})"
    if expected is not None:
        text += f" — {number(seen)} sur {_plural(expected, 'contrat')} {_received(expected)}"
    text += "."
    # the share of the year's contract.ended received, and of the effects done so far: the
    # smaller one, so the bar is full only when both are
    finished = run is not None and run["status"] == "done"
    # nothing ended yet: an empty bar, unless the run is over and ended nothing
    received = Fraction(min(seen, expected), expected) if expected else Fraction(int(finished))
    total = effects.done + effects.remaining
    done = Fraction(effects.done, total) if total else Fraction(1)
    share = min(received, done)
    complete = finished and expected is not None and seen >= expected and effects.remaining == 0
    return Line(
        key,
        wording.label,
        True,
        complete,
        text,
        bar_value=int(share * BAR_SCALE),
        bar_max=BAR_SCALE,
        note=note,
    )


def _received(count: int) -> str:
    return "reçu" if count <= 1 else "reçus"


def progress_of(
    run: dict[str, Any] | None,
    effects: dict[str, YearEndEffects | None],
    notes: dict[str, str] | None = None,
) -> YearEndProgress:
    """The four lines, from contracts-svc's run and each consumer's effects (None: it did not
    answer; ``notes`` say why, by line)."""
    notes = notes or {}
    lines = [contracts_line(run, notes.get("contracts"))]
    lines += [effects_line(k, run, effects.get(k), notes.get(k)) for k in _WORDING]
    return YearEndProgress(run, lines)
