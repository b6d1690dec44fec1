"""What the practice's manager reads (B11, B10): subjects and bodies in French. Pure.

The document itself travels as its Factur-X PDF attached; the text says what it is, how much,
by when, and how to pay or whom to ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from prisme_chassis.money import eur_fr

from . import domain


@dataclass(frozen=True, slots=True)
class Sender:
    trade_name: str
    email: str
    phone: str
    iban: str
    bic: str
    penalty_wording: str


@dataclass(frozen=True, slots=True)
class Doc:
    kind: str  # invoice | credit_note
    number: str
    issue_date: date
    due_date: date
    total_ttc: Decimal
    manager_name: str
    practice_name: str
    invoice_number: str | None = None  # the invoice a credit note corrects
    reason: str | None = None  # why a credit note was issued


def _greeting(doc: Doc) -> str:
    return f"Bonjour {doc.manager_name}," if doc.manager_name.strip() else "Bonjour,"


def _signature(s: Sender) -> str:
    return (
        f"Pour toute question : {s.email} — {s.phone}.\n\n"
        f"Cordialement,\n{s.trade_name} — service facturation\n"
    )


_FACTUR_X = (
    "Le fichier joint est une facture électronique Factur-X (PDF/A-3 avec ses données XML, "
    "profil EN 16931) : votre logiciel comptable peut l'importer tel quel."
)


def document_mail(doc: Doc, s: Sender) -> tuple[str, str]:
    """B11: the e-mail carrying a finalised invoice or credit note."""
    if doc.kind == "invoice":
        subject = f"Facture {doc.number} — {s.trade_name}"
        body = (
            f"{_greeting(doc)}\n\n"
            f"Veuillez trouver ci-joint la facture n° {doc.number} du {doc.issue_date:%d/%m/%Y} "
            f"pour le cabinet {doc.practice_name}, d'un montant de {eur_fr(doc.total_ttc)} TTC, "
            f"à régler au plus tard le {doc.due_date:%d/%m/%Y}.\n\n"
            "Règlement par carte bancaire ou prélèvement SEPA (lien de paiement envoyé "
            f"séparément), par virement (IBAN {s.iban}, BIC {s.bic}) en rappelant le numéro "
            "de facture, ou par chèque.\n\n"
            f"{_FACTUR_X}\n\n{_signature(s)}"
        )
        return subject, body
    subject = f"Avoir {doc.number} sur la facture {doc.invoice_number} — {s.trade_name}"
    reason = f"Motif : {doc.reason}\n\n" if doc.reason else ""
    body = (
        f"{_greeting(doc)}\n\n"
        f"Veuillez trouver ci-joint l'avoir n° {doc.number} du {doc.issue_date:%d/%m/%Y} "
        f"pour le cabinet {doc.practice_name}, d'un montant de {eur_fr(doc.total_ttc)} TTC, "
        f"émis sur la facture n° {doc.invoice_number}.\n\n"
        f"{reason}"
        "Ce montant est déduit de ce qui reste dû sur la facture ; ce qui aurait déjà été "
        "réglé au-delà vous est remboursé par le moyen de paiement d'origine.\n\n"
        f"{_FACTUR_X}\n\n{_signature(s)}"
    )
    return subject, body


def reminder_mail(
    doc: Doc,
    s: Sender,
    *,
    stage_days: int,
    outstanding: Decimal,
    penalty: Decimal,
) -> tuple[str, str]:
    """B10: a reminder at +7 or +21 days; penalties and the indemnity are stated, not billed."""
    first = stage_days == domain.REMINDER_DAYS[0]
    label = "Relance" if first else "Second rappel"
    subject = f"{label} : facture {doc.number} échue le {doc.due_date:%d/%m/%Y} — {s.trade_name}"
    body = (
        f"{_greeting(doc)}\n\n"
        f"Sauf erreur de notre part, la facture n° {doc.number} du {doc.issue_date:%d/%m/%Y} "
        f"(cabinet {doc.practice_name}), échue le {doc.due_date:%d/%m/%Y}, n'est pas "
        f"entièrement réglée : il reste {eur_fr(outstanding)} TTC à payer. "
        "Vous la trouverez de nouveau ci-jointe.\n\n"
        "Merci de procéder au règlement dès réception, par virement "
        f"(IBAN {s.iban}, BIC {s.bic}) en rappelant le numéro de facture, par carte ou par "
        "chèque.\n\n"
        f"Conformément à nos conditions, des pénalités de retard au {s.penalty_wording} "
        f"(soit {eur_fr(penalty)} à ce jour) et l'indemnité forfaitaire pour frais de "
        f"recouvrement de {eur_fr(domain.RECOVERY_INDEMNITY)} (article L441-10 du Code de "
        "commerce) sont exigibles ; elles ne sont pas ajoutées à la facture.\n\n"
        "Si vous avez réglé entre-temps, merci de ne pas tenir compte de ce message.\n\n"
        f"{_signature(s)}"
    )
    return subject, body
