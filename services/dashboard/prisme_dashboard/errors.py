"""The dashboard's domain errors (RFC 9457 problems with a stable type)."""

from __future__ import annotations

from prisme_chassis.errors import Conflict, Forbidden, NotFound, Unprocessable


class OperatorExists(Conflict):
    code = "operator-exists"
    title = "Un opérateur a déjà cette adresse e-mail"


class OperatorNotFound(NotFound):
    code = "operator-not-found"
    title = "Opérateur introuvable"


class WeakPassword(Unprocessable):
    code = "weak-password"
    title = "Mot de passe refusé"


class InvalidOperator(Unprocessable):
    code = "invalid-operator"
    title = "Opérateur invalide"


class CsrfRefused(Forbidden):
    code = "csrf-refused"
    title = "Requête refusée (jeton CSRF ou origine invalide)"


class NotAdmin(Forbidden):
    code = "admin-required"
    title = "Réservé aux administrateurs"


class AccountChangeRefused(Unprocessable):
    """Re-authentication or a confirmation code failed on the operator's security page."""

    code = "account-change-refused"
    title = "Modification refusée"


class UnknownService(NotFound):
    """A page's address names a service the platform does not have."""

    code = "unknown-service"
    title = "Service inconnu"
