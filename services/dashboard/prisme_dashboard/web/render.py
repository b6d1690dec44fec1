"""Rendering pages: one Jinja2 environment, the layout, what every page knows, and the French
formatting filters (DESIGN §1: dates ``1 déc. 2026``, money ``3 340,80 €``, times in
Indian/Reunion)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from prisme_chassis.clock import REUNION
from prisme_chassis.money import eur_fr

from ..roles import ROLE_LABELS

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["role_labels"] = ROLE_LABELS

#: the abbreviations of the Imprimerie nationale, as French readers expect them
MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")

#: the pages of the dashboard (issue #12), in the navigation's order: (path, label, who sees it)
NAVIGATION: tuple[tuple[str, str, str | None], ...] = (
    ("/", "Accueil", None),
    ("/cabinets", "Cabinets", None),
    ("/contrats", "Contrats", None),
    ("/facturation", "Facturation", None),
    ("/licences", "Licences", None),
    ("/videos", "Vidéos", None),
    ("/sauvegardes", "Sauvegardes", None),
    ("/a-valider", "À valider", None),
    ("/evenements", "Événements", None),
    ("/journal", "Journal d'audit", None),
    ("/admin", "Administration", "admin"),
)


def _as_datetime(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"a naive time cannot be shown in Réunion time: {value!r}")
    return moment


def french_date(value: date | datetime | str | None) -> str:
    """``1 déc. 2026``; an instant is read as a day in Réunion (its business day)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = _as_datetime(value).astimezone(REUNION).date()
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def french_long_date(value: date | datetime | str | None) -> str:
    """``mardi 1 déc. 2026``."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    day = _as_datetime(value).astimezone(REUNION).date() if isinstance(value, datetime) else value
    return f"{WEEKDAYS[day.weekday()]} {french_date(day)}"


def reunion_time(value: datetime | str | None) -> str:
    """``1 déc. 2026 à 18:04``: what an operator reads is in Réunion time (DESIGN §1)."""
    if value is None or value == "":
        return "—"
    moment = _as_datetime(value).astimezone(REUNION)
    return f"{french_date(moment.date())} à {moment:%H:%M}"


def clock_time(value: datetime | str | None) -> str:
    """``18:04`` in Réunion time."""
    if value is None or value == "":
        return "—"
    return f"{_as_datetime(value).astimezone(REUNION):%H:%M}"


def euros(value: Decimal | str | int | None) -> str:
    """``3 340,80 €`` (the API's amounts are decimal strings; never floats)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, float):
        raise TypeError("money is never a float")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    return eur_fr(amount)


def number(value: int | None) -> str:
    """``10 000`` (a narrow no-break space between thousands)."""
    if value is None:
        return "—"
    return f"{value:,}".replace(",", "\u202f")


def duration(value: Decimal | str | float | int | None) -> str:
    """``1:05`` or ``1:02:05`` (a position or a length in a recording)."""
    if value is None or value == "":
        return "—"
    total = int(Decimal(str(value)))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def size_fr(value: int | None) -> str:
    """``12,4 Mo`` (French units, decimal comma)."""
    if value is None:
        return "—"
    amount = float(value)
    for unit in ("octets", "ko", "Mo", "Go", "To"):
        if amount < 1000 or unit == "To":
            text = f"{amount:.0f}" if unit == "octets" else f"{amount:.1f}".replace(".", ",")
            text = text.removesuffix(",0")
            return f"{text} {unit}"
        amount /= 1000
    raise AssertionError("unreachable")


TEMPLATES.env.filters["duree"] = duration
TEMPLATES.env.filters["octets"] = size_fr
TEMPLATES.env.filters["date_fr"] = french_date
TEMPLATES.env.filters["long_date_fr"] = french_long_date
TEMPLATES.env.filters["heure"] = reunion_time
TEMPLATES.env.filters["hm"] = clock_time
TEMPLATES.env.filters["euros"] = euros
TEMPLATES.env.filters["nombre"] = number
TEMPLATES.env.globals["navigation"] = NAVIGATION

#: PRG notices: a redirect names one (``?ok=…``), the next page shows its French text.
NOTICES = {
    "password_changed": "Votre mot de passe a été modifié. Vos autres sessions ont été fermées.",
    "totp_enabled": "La double authentification est activée.",
    "totp_removed": "La double authentification est désactivée.",
    "session_ended": "La session a été fermée.",
    "signed_out": "Vous êtes déconnecté.",
    "totp_required": "Votre rôle exige la double authentification : activez-la pour continuer.",
    "token_revoked": "Le jeton est révoqué : tous les services le refusent désormais.",
    "dead_letter_replayed": "La lettre morte a été rejouée avec succès : elle quitte la liste.",
    "job_retried": "La tâche est remise dans la file : elle sera exécutée de nouveau.",
    "video_uploaded": "L'enregistrement est téléversé et chiffré.",
    "comment_added": "Le commentaire est ajouté.",
    "link_revoked": "Le lien est révoqué : il ne fonctionne plus.",
    "operator_roles": "Les rôles sont enregistrés : ils valent dès le prochain jeton (5 minutes au plus).",
    "operator_disabled": "L'opérateur est désactivé et ses sessions sont fermées.",
    "operator_enabled": "L'opérateur est réactivé.",
    "payment_recorded": "Le paiement est enregistré.",
    "licence_retried": "L'appel à Microsoft Graph est relancé : le compte sera réessayé.",
}


def query_with(request: Request, **changes: Any) -> str:
    """The current page's query string with ``changes`` (None removes a key): for the
    links of pagination and filters, which keep the other filters."""
    params = dict(request.query_params)
    params.pop("ok", None)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"


TEMPLATES.env.globals["query_with"] = query_with


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A whole server-rendered page; ``visit`` (the signed-in operator) if there is one."""
    visit = getattr(request.state, "visit", None)
    notice = NOTICES.get(request.query_params.get("ok", ""))
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"visit": visit, "notice": notice, "current_path": request.url.path, **context},
        status_code=status,
    )


def fragment(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A part of a page (an htmx swap, a live refresh): the template without the layout."""
    return page(request, template, status=status, **context)
