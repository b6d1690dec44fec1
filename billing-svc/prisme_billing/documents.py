"""B7: the values of a finalised invoice or credit note, as its Factur-X is drawn from them.

:mod:`.cii` builds the XML, :mod:`.rendering` the French page, :mod:`.factur_x` the PDF/A-3b
file; all three are pure (values in, bytes out).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Seller:
    """The provider's legal identity (B7), from settings."""

    legal_name: str
    trade_name: str
    legal_form: str
    siren: str
    vat_id: str
    address: str
    postal_code: str
    city: str
    email: str
    phone: str
    iban: str
    bic: str
    late_penalty: str


@dataclass(frozen=True, slots=True)
class Line:
    description: str
    quantity: Decimal
    unit_code: str
    unit_ht: Decimal
    unit_ttc: Decimal
    period_start: date
    period_end: date
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal
    yearly_ttc: Decimal | None = None
    postes: int | None = None
    prorata: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    kind: str  # invoice | credit_note
    number: str
    issue_date: date
    due_date: date
    buyer: dict[str, str]
    lines: list[Line]
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal
    payment_terms: str
    invoice_number: str | None = None  # the invoice a credit note corrects (BT-25)
    invoice_issue_date: date | None = None  # BT-26
    reason: str | None = None  # why a credit note was issued

    @property
    def title(self) -> str:
        return "Facture" if self.kind == "invoice" else "Avoir"


def payment_terms(kind: str, due: date, seller: Seller, invoice_number: str | None) -> str:
    """BR-CO-25: the payment terms printed and embedded on every document, in French."""
    if kind == "credit_note":
        return (
            f"Avoir sur la facture {invoice_number} : montant déduit de ce qui reste dû, "
            "le trop-perçu remboursé par le moyen de paiement d'origine "
            f"au plus tard le {due:%d/%m/%Y}."
        )
    return (
        f"Paiement à 30 jours, au plus tard le {due:%d/%m/%Y}, par carte bancaire ou "
        f"prélèvement SEPA (lien envoyé par e-mail), par virement (IBAN {seller.iban}, "
        f"BIC {seller.bic}) ou par chèque à l'ordre de {seller.legal_name}. "
        "Pas d'escompte pour paiement anticipé."
    )
