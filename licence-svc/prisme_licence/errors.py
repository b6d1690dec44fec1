"""licence-svc's catalogue of domain errors: one class per rule, a stable problem ``type``."""

from __future__ import annotations

from prisme_chassis.errors import Conflict, DomainError, Gone, NotFound


class AccountNotFound(NotFound):
    code = "account-not-found"
    title = "Compte introuvable"


class AccountNotProvisioned(Conflict):
    code = "account-not-provisioned"
    title = "Le compte n'est pas encore créé chez Microsoft"


class PasswordAlreadyRead(Gone):
    """L1: the initial password is shown once; later reads answer this."""

    code = "password-already-read"
    title = "Le mot de passe initial a déjà été lu ou a expiré"


class PasswordExpired(Gone):
    code = "password-expired"
    title = "Le mot de passe initial a expiré"


CATALOGUE: tuple[type[DomainError], ...] = (
    AccountNotFound,
    AccountNotProvisioned,
    PasswordAlreadyRead,
    PasswordExpired,
)
