"""Rendering pages: one Jinja2 environment, the layout, and what every page knows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from prisme_chassis.calendar import REUNION

from ..roles import ROLE_LABELS

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.globals["role_labels"] = ROLE_LABELS


def reunion_time(moment: datetime) -> str:
    """``01/12/2026 18:04``: what an operator reads is in Réunion time (DESIGN §1)."""
    return moment.astimezone(REUNION).strftime("%d/%m/%Y %H:%M")


TEMPLATES.env.filters["heure"] = reunion_time

#: PRG notices: a redirect names one (``?ok=…``), the next page shows its French text.
NOTICES = {
    "password_changed": "Votre mot de passe a été modifié. Vos autres sessions ont été fermées.",
    "totp_enabled": "La double authentification est activée.",
    "totp_removed": "La double authentification est désactivée.",
    "session_ended": "La session a été fermée.",
    "signed_out": "Vous êtes déconnecté.",
    "totp_required": "Votre rôle exige la double authentification : activez-la pour continuer.",
    "token_revoked": "Le jeton est révoqué : tous les services le refusent désormais.",
}


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A whole server-rendered page; ``visit`` (the signed-in operator) if there is one."""
    visit = getattr(request.state, "visit", None)
    notice = NOTICES.get(request.query_params.get("ok", ""))
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"visit": visit, "notice": notice, **context},
        status_code=status,
    )
