"""billing-svc's catalogue of domain errors: one class per rule, a stable problem ``type``."""

from __future__ import annotations

from prisme_chassis import pagination
from prisme_chassis.errors import Conflict, DomainError, NotFound, Unprocessable


class DocumentNotFound(NotFound):
    code = "document-not-found"
    title = "Facture ou avoir introuvable"


class InvoiceNotFound(NotFound):
    code = "invoice-not-found"
    title = "Facture introuvable"


class ContractUnknown(NotFound):
    code = "contract-unknown-to-billing"
    title = "La facturation ne connaît pas ce contrat"


class DuplicateOffer(Unprocessable):
    code = "duplicate-offer"
    title = "Une offre apparaît deux fois dans la grille tarifaire (B1)"


class ClientUnknown(Unprocessable):
    code = "client-unknown-to-billing"
    title = "Aucun événement de contrat n'a décrit ce client"


class PaymentMethodRefused(Unprocessable):
    code = "payment-method-refused"
    title = "Mode de paiement refusé (virement ou chèque)"


class InvalidAmount(Unprocessable):
    code = "invalid-amount"
    title = "Montant invalide (positif, deux décimales au plus)"


class AmountExceedsOutstanding(Unprocessable):
    code = "amount-exceeds-outstanding"
    title = "Le montant dépasse le reste dû"


class InvoiceAlreadyPaid(Conflict):
    code = "invoice-already-paid"
    title = "La facture est déjà payée"


class InvalidSignature(DomainError):
    """B8: a Stripe webhook whose signature is missing, wrong or too old is refused."""

    status = 400
    code = "invalid-signature"
    title = "Signature Stripe invalide"


class StripeUnavailable(DomainError):
    status = 503
    code = "stripe-unavailable"
    title = "Stripe ne répond pas"


class RefundNotFound(NotFound):
    code = "refund-not-found"
    title = "Remboursement introuvable"


class RefundThroughStripe(Conflict):
    code = "refund-through-stripe"
    title = "Ce remboursement passe par Stripe ; il ne s'enregistre pas à la main"


class RefundAlreadyRecorded(Conflict):
    code = "refund-already-recorded"
    title = "Ce remboursement est déjà enregistré"


class FinalisedInvoiceNotFound(NotFound):
    code = "finalised-invoice-not-found"
    title = "Facture émise introuvable"


class InvalidCorrection(Unprocessable):
    code = "invalid-correction"
    title = "Correction refusée"


class ApprovalNotFound(NotFound):
    code = "approval-not-found"
    title = "Demande d'approbation introuvable"


class ApprovalTampered(Conflict):
    code = "approval-tampered"
    title = "La demande enregistrée ne correspond pas à son empreinte"


class DuplicatePriceItem(Unprocessable):
    code = "duplicate-price-item"
    title = "Un code apparaît deux fois parmi les prix unitaires (B9)"


class InvalidListFilter(Unprocessable):
    """A list's filters that cannot hold together (e.g. ``issued_from`` after ``issued_to``)."""

    code = "invalid-list-filter"
    title = "Filtre de liste invalide"


CATALOGUE: tuple[type[DomainError], ...] = (
    InvalidListFilter,
    pagination.InvalidCursor,
    DuplicatePriceItem,
    RefundNotFound,
    RefundThroughStripe,
    RefundAlreadyRecorded,
    FinalisedInvoiceNotFound,
    InvalidCorrection,
    ApprovalNotFound,
    ApprovalTampered,
    DocumentNotFound,
    InvoiceNotFound,
    ContractUnknown,
    DuplicateOffer,
    ClientUnknown,
    PaymentMethodRefused,
    InvalidAmount,
    AmountExceedsOutstanding,
    InvoiceAlreadyPaid,
    InvalidSignature,
    StripeUnavailable,
)
