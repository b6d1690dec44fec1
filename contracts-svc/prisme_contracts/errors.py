"""contracts-svc's catalogue of domain errors: one class per business rule, each with a
stable problem ``type`` (``https://prisme.example/problems/<code>``), listed in the OpenAPI
(components ``Problem-<code>`` and the responses of the routes that raise them)."""

from __future__ import annotations

from prisme_chassis import pagination
from prisme_chassis.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)

# --- not found --------------------------------------------------------------------------


class ClientNotFound(NotFound):
    code = "client-not-found"
    title = "Client introuvable"


class ContractNotFound(NotFound):
    code = "contract-not-found"
    title = "Contrat introuvable"


class TerminationNotFound(NotFound):
    code = "termination-not-found"
    title = "Demande de résiliation introuvable"


class UserNotFound(NotFound):
    code = "user-not-found"
    title = "Utilisateur introuvable dans ce cabinet"


class AssetNotFound(NotFound):
    code = "asset-not-found"
    title = "Équipement introuvable dans ce cabinet"


class NetworkNotDeclared(NotFound):
    code = "network-not-declared"
    title = "Le réseau du cabinet n'est pas déclaré"


class PartnerNotListed(NotFound):
    code = "partner-not-listed"
    title = "Ce prestataire partenaire n'est pas référencé"


class OverrideNotFound(NotFound):
    code = "override-not-found"
    title = "Aucune dérogation en vigueur pour ce critère"


class OfferNotFound(NotFound):
    code = "offer-not-found"
    title = "Offre introuvable"


class LevelNotFound(NotFound):
    code = "level-not-found"
    title = "Niveau de maintenance introuvable"


# --- input that breaks a rule -------------------------------------------------------------


class InvalidField(Unprocessable):
    """A field's value breaks a rule; ``errors`` names the field."""

    code = "invalid-field"
    title = "Valeur refusée"


class UnknownOffer(Unprocessable):
    code = "unknown-offer"
    title = "Offre inconnue (C1)"


class UnknownLevel(Unprocessable):
    code = "unknown-level"
    title = "Niveau de maintenance inconnu"


class UnknownCatalogueItems(Unprocessable):
    code = "unknown-catalogue-items"
    title = "Éléments de catalogue inconnus (C1)"


class UnknownClient(Unprocessable):
    code = "unknown-client"
    title = "Le client désigné n'existe pas"


class StartDateOutOfRange(Unprocessable):
    code = "start-date-out-of-range"
    title = "La date de début doit tomber dans l'année en cours ou la suivante"


class NotEligible(Unprocessable):
    """C3: the practice fails eligibility criteria; ``failures`` lists them."""

    code = "not-eligible"
    title = "Le cabinet n'est pas éligible (C3)"


class OfferUnpriced(Unprocessable):
    """B1: billing has no price for the offer; nothing was activated."""

    code = "offer-unpriced"
    title = "L'offre n'a pas de prix"


class InvalidIntervention(Unprocessable):
    code = "invalid-intervention"
    title = "Intervention refusée"


# one cursor scheme for every list (the chassis'): its problem too
InvalidCursor = pagination.InvalidCursor


class OverrideExpiryPassed(Unprocessable):
    code = "override-expiry-passed"
    title = "La date d'expiration de la dérogation est déjà passée"


class TerminationReasonRefused(Unprocessable):
    code = "termination-reason-refused"
    title = "Résiliation anticipée possible seulement pour cessation d'activité (C6)"


class EffectiveDateOutOfRange(Unprocessable):
    code = "effective-date-out-of-range"
    title = "La date d'effet doit tomber dans la période du contrat (C6)"


class DocumentTooLarge(PayloadTooLarge):
    code = "document-too-large"
    title = "Le justificatif est trop volumineux"


class DocumentTypeRefused(UnsupportedMediaType):
    code = "document-type-refused"
    title = "Le justificatif doit être un PDF, JPEG ou PNG"


# --- state conflicts ----------------------------------------------------------------------


class OfferExists(Conflict):
    code = "offer-exists"
    title = "Cette offre existe déjà"


class LevelExists(Conflict):
    code = "level-exists"
    title = "Ce niveau de maintenance existe déjà"


class DefaultLevelRequired(Conflict):
    code = "default-level-required"
    title = "Un autre niveau doit devenir le niveau par défaut à sa place"


class ContractExistsForYear(Conflict):
    code = "contract-exists-for-year"
    title = "Le client a déjà un contrat pour cette année"


class NotADraft(Conflict):
    code = "not-a-draft"
    title = "Seul un brouillon peut être activé ou annulé"


class ChangedMeanwhile(Conflict):
    code = "changed-meanwhile"
    title = "Le contrat a changé pendant l'opération ; réessayez"


class YearClosed(Conflict):
    code = "year-closed"
    title = "L'année est close (la clôture annuelle a eu lieu)"


class YearOver(Conflict):
    code = "year-over"
    title = "L'année du contrat est terminée"


class NotRenewable(Conflict):
    code = "not-renewable"
    title = "Ce contrat ne peut pas être renouvelé"


class ContractNotActive(Conflict):
    code = "contract-not-active"
    title = "Le contrat n'est pas actif"


class TerminationPending(Conflict):
    code = "termination-pending"
    title = "Une demande de résiliation est déjà ouverte pour ce contrat"


class TerminationDecided(Conflict):
    code = "termination-decided"
    title = "La demande de résiliation a déjà été traitée"


class OverrideNotNeeded(Conflict):
    code = "override-not-needed"
    title = "Le critère est respecté : aucune dérogation n'est nécessaire"


class OverrideExists(Conflict):
    code = "override-exists"
    title = "Une dérogation est déjà enregistrée pour ce critère"


class PartnerListed(Conflict):
    code = "partner-listed"
    title = "Ce prestataire partenaire est déjà référencé"


class UserEmailTaken(Conflict):
    code = "user-email-taken"
    title = "Un utilisateur du cabinet a déjà cette adresse e-mail"


class AssetNameTaken(Conflict):
    code = "asset-name-taken"
    title = "Un équipement du cabinet porte déjà ce nom"


class YearNotOver(Conflict):
    """C2: the year-end runs once the year is over (31 December 23:59:59 Réunion)."""

    code = "year-not-over"
    title = "L'année n'est pas terminée"


class YearEndLocked(Conflict):
    code = "year-end-locked"
    title = "Des contrats restent verrouillés ; relancez la clôture"


# --- permissions -------------------------------------------------------------------------


class SelfApproval(Forbidden):
    """C6/O2: the maker of a four-eyes request cannot be its checker (by identity)."""

    code = "self-approval"
    title = "Un autre opérateur doit décider (règle des quatre yeux, C6)"


class NotTheRequester(Forbidden):
    code = "not-the-requester"
    title = "Seul l'opérateur qui a fait la demande peut la retirer"


# --- dependencies ------------------------------------------------------------------------


class BillingUnavailable(DomainError):
    status = 503
    code = "billing-unavailable"
    title = "La facturation ne répond pas"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


CATALOGUE: tuple[type[DomainError], ...] = tuple(
    value
    for value in list(globals().values())
    if isinstance(value, type) and issubclass(value, DomainError) and value.__module__ == __name__
)
