"""Which events alert people, how urgent each is, who reads it, and what it says (French).

Urgent alerts also go out in the on-call windows (Sunday and holidays 09:00–12:00); the others
wait for open hours (S1). Technicians get what concerns practices' systems, the accountant's
list what concerns payments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from prisme_chassis.calendar import REUNION

Audience = Literal["technicians", "accountants"]


@dataclass(frozen=True)
class Rule:
    name: str
    audience: Audience
    urgent: bool
    title: str
    describe: Callable[[Mapping[str, Any]], str]


def _facts(f: Mapping[str, Any], *names: str) -> str:
    return "\n".join(
        f"{label} : {f[key]}"
        for key, label in _LABELS.items()
        if key in names and f.get(key) not in (None, "")
    )


_LABELS = {
    "client_id": "Cabinet (client_id)",
    "plan_id": "Plan de sauvegarde",
    "day": "Jour",
    "reason": "Cause",
    "check": "Vérification",
    "detail": "Détail",
    "snapshot_id": "Instantané",
    "account_id": "Compte",
    "upn": "Identifiant Microsoft 365",
    "sku": "Licence",
    "contract_id": "Contrat",
    "invoice_id": "Facture (id)",
    "number": "Numéro de facture",
    "due_date": "Échéance",
    "outstanding": "Reste dû (EUR)",
    "service": "Service",
    "durable": "Consommateur",
    "subject": "Événement",
    "error": "Erreur",
    "delivered": "Livraisons tentées",
    "endpoint_id": "Point de terminaison",
    "failing_since": "En échec depuis",
    "job_id": "Tâche n°",
    "kind": "Type de tâche",
    "key": "Clé",
    "attempts": "Tentatives",
}

RULES: dict[str, Rule] = {
    "backup.missed": Rule(
        "backup.missed",
        "technicians",
        False,
        "Sauvegarde manquée",
        lambda f: (
            "Aucune copie valide pour la journée prévue (K2).\n\n"
            + _facts(f, "client_id", "plan_id", "day", "reason")
        ),
    ),
    "backup.check_failed": Rule(
        "backup.check_failed",
        "technicians",
        True,
        "Vérification de sauvegarde en échec",
        lambda f: (
            "Une vérification d'intégrité ou une restauration de test a échoué (K2).\n\n"
            + _facts(f, "client_id", "plan_id", "check", "detail", "snapshot_id")
        ),
    ),
    "licence.failed": Rule(
        "licence.failed",
        "technicians",
        False,
        "Licence Microsoft 365 en échec",
        lambda f: (
            "La création ou la révocation d'un compte Microsoft 365 n'a pas abouti.\n\n"
            + _facts(f, "client_id", "contract_id", "account_id", "upn", "sku", "reason")
        ),
    ),
    "licence.no_free_seat": Rule(
        "licence.no_free_seat",
        "technicians",
        False,
        "Plus aucune licence Microsoft 365 libre",
        lambda f: (
            "Le tenant du cabinet n'a plus de licence libre : les comptes restent en attente "
            "jusqu'à l'achat de licences.\n\n"
            + _facts(f, "client_id", "contract_id", "account_id", "upn", "sku")
        ),
    ),
    "invoice.payment_failed": Rule(
        "invoice.payment_failed",
        "accountants",
        False,
        "Paiement de facture en échec",
        lambda f: (
            "Une tentative de paiement a échoué (B8).\n\n"
            + _facts(f, "client_id", "invoice_id", "number", "reason")
        ),
    ),
    "invoice.overdue": Rule(
        "invoice.overdue",
        "accountants",
        False,
        "Facture en retard de paiement",
        lambda f: (
            "Une facture a dépassé son échéance sans être payée.\n\n"
            + _facts(f, "client_id", "invoice_id", "number", "due_date", "outstanding")
        ),
    ),
    "deadletter": Rule(
        "deadletter",
        "technicians",
        True,
        "Message en lettre morte",
        lambda f: (
            "Un événement n'a pas pu être traité après toutes les tentatives ; il attend "
            "d'être rejoué (GET /v1/dead-letters du service concerné).\n\n"
            + _facts(f, "service", "durable", "subject", "error", "delivered")
        ),
    ),
    "job.dead": Rule(
        "job.dead",
        "technicians",
        True,
        "Tâche abandonnée",
        lambda f: (
            "Une tâche durable a épuisé ses tentatives (ou a échoué définitivement) ; "
            "après correction de la cause, elle se relance par POST /v1/jobs/{id}/retry "
            "sur le service concerné (liste : GET /v1/jobs?state=dead).\n\n"
            + _facts(f, "service", "job_id", "kind", "key", "attempts", "error")
        ),
    ),
    "webhook.endpoint_disabled": Rule(
        "webhook.endpoint_disabled",
        "technicians",
        False,
        "Webhook d'intégrateur désactivé",
        lambda f: (
            "Un point de terminaison d'intégrateur a été désactivé "
            "(réponse 410, ou échecs pendant 5 jours).\n\n"
            + _facts(f, "endpoint_id", "reason", "failing_since")
        ),
    ),
}


def rule_for(event_type: str, facts: Mapping[str, Any]) -> Rule | None:
    """The rule an event raises, if any (a licence failure for want of a seat is its own;
    every service's ``job.dead.<area>`` is the one ``job.dead`` rule)."""
    if event_type == "licence.failed" and facts.get("reason") == "no_free_seat":
        return RULES["licence.no_free_seat"]
    if event_type.startswith("job.dead."):
        return RULES["job.dead"]
    return RULES.get(event_type)


def subject_line(rule: Rule, raised_at: datetime) -> str:
    urgent = "URGENT — " if rule.urgent else ""
    return f"[PRISME] {urgent}{rule.title} ({raised_at.astimezone(REUNION):%d/%m/%Y %H:%M})"


def body_text(rule: Rule, facts: Mapping[str, Any], raised_at: datetime) -> str:
    when = raised_at.astimezone(REUNION)
    return (
        f"{rule.title}\n"
        f"Signalée le {when:%d/%m/%Y à %H:%M} (heure de La Réunion).\n\n"
        f"{rule.describe(facts)}\n\n"
        "— Alertes PRISME (envoyées aux heures de support, S1)\n"
    )


def digest_text(alerts: list[Mapping[str, Any]], day: datetime) -> tuple[str, str]:
    when = day.astimezone(REUNION)
    subject = f"[PRISME] Récapitulatif du {when:%d/%m/%Y} : {len(alerts)} alerte(s) ouverte(s)"
    lines = [
        f"- {a['raised_at'].astimezone(REUNION):%d/%m %H:%M} {a['subject'].removeprefix('[PRISME] ')}"
        for a in alerts
    ]
    body = (
        f"Alertes encore ouvertes à l'ouverture du support le {when:%d/%m/%Y} :\n\n"
        + "\n".join(lines)
        + "\n\n— Alertes PRISME\n"
    )
    return subject, body
