"""The 30-day picture of a practice's backups (Sauvegardes): one square per day, coloured by
what happened that day (Réunion business days), drawn as SVG (a picture, not a table)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Literal

DayState = Literal["ok", "failed", "missed", "pending", "none"]

#: what each colour says (the picture's legend and each square's title)
STATE_LABELS: dict[DayState, str] = {
    "ok": "copie réussie",
    "failed": "copie en échec",
    "missed": "aucune copie",
    "pending": "copie attendue aujourd'hui",
    "none": "pas de copie prévue",
}
MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
          "nov.", "déc.")  # fmt: skip


@dataclass(frozen=True)
class Run:
    day: date
    succeeded: bool


def day_states(
    runs: Iterable[Run],
    *,
    today: date,
    expected_from: date,
    last_day: date | None,
    days: int = 30,
) -> list[tuple[date, DayState]]:
    """The ``days`` days up to ``today``, oldest first: a success that day wins over a failure;
    a day without a run is missed once it is over, if a copy was expected then (K2)."""
    succeeded: set[date] = set()
    failed: set[date] = set()
    for run in runs:
        (succeeded if run.succeeded else failed).add(run.day)
    states: list[tuple[date, DayState]] = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        expected = day >= expected_from and (last_day is None or day <= last_day)
        state: DayState
        if day in succeeded:
            state = "ok"
        elif day in failed:
            state = "failed"
        elif not expected:
            state = "none"
        elif day == today:
            state = "pending"
        else:
            state = "missed"
        states.append((day, state))
    return states


CELL, GAP = 22, 4


def calendar_svg(states: list[tuple[date, DayState]], *, label: str) -> str:
    """An accessible SVG: ``role="img"`` with a summary; each square has its day as a title."""
    counts = {s: sum(1 for _, x in states if x == s) for s in STATE_LABELS}
    summary = ", ".join(f"{n} {STATE_LABELS[s]}" for s, n in counts.items() if n)
    width = len(states) * (CELL + GAP)
    parts = [
        f'<svg class="backup-calendar" role="img" viewBox="0 0 {width} {CELL + 18}" '
        f'width="{width}" height="{CELL + 18}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)} : {escape(summary)}</title>",
    ]
    for i, (day, state) in enumerate(states):
        x = i * (CELL + GAP)
        parts.append(
            f'<rect class="day {state}" x="{x}" y="0" width="{CELL}" height="{CELL}" rx="4">'
            f"<title>{day.day} {MONTHS[day.month - 1]} : {STATE_LABELS[state]}</title></rect>"
        )
        last = i == len(states) - 1
        if i == 0 or day.day == 1 or last:
            anchor = f' x="{x + CELL}" text-anchor="end"' if last else f' x="{x}"'
            parts.append(
                f'<text{anchor} y="{CELL + 14}" class="day-label">'
                f"{day.day} {MONTHS[day.month - 1]}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
