"""backup-svc's catalogue of domain errors: one class per business rule, each with a stable
problem ``type`` (``https://prisme.example/problems/<code>``), listed in the OpenAPI
(components ``Problem-<code>`` and the responses of the routes that raise them)."""

from __future__ import annotations

from prisme_chassis.errors import Conflict, DomainError, NotFound, Unauthorized, Unprocessable

# --- not found --------------------------------------------------------------------------


class PlanNotFound(NotFound):
    code = "plan-not-found"
    title = "Plan de sauvegarde introuvable"


class ExportNotFound(NotFound):
    code = "export-not-found"
    title = "Export introuvable"


# --- plans (K1, K3) ---------------------------------------------------------------------


class PlanNotEditable(Conflict):
    """K3: a stopped or purged plan keeps what it was."""

    code = "plan-not-editable"
    title = "Ce plan ne peut plus être modifié"


class PlanNotEnrollable(Conflict):
    """K3: no agent enrols on a plan that is stopped or purged."""

    code = "plan-not-enrollable"
    title = "Aucun agent ne peut s'inscrire sur ce plan"


class DuplicateSourceName(Conflict):
    code = "duplicate-source-name"
    title = "Deux sources de base de données portent le même nom"


# --- exports (K2) -----------------------------------------------------------------------


class CopiesDestroyed(Conflict):
    """K3: after the purge there is nothing left to export."""

    code = "copies-destroyed"
    title = "Les copies ont été détruites : rien à exporter"


class ExportNotReady(Conflict):
    code = "export-not-ready"
    title = "L'export n'est pas prêt"


# --- agents -----------------------------------------------------------------------------


class EnrolmentTokenRefused(Unauthorized):
    code = "enrolment-token-refused"
    title = "Jeton d'inscription inconnu, déjà utilisé ou expiré"


class AgentCredentialsRefused(Unauthorized):
    code = "agent-credentials-refused"
    title = "Identifiants d'agent absents, inconnus ou révoqués"


class SnapshotRequired(Unprocessable):
    code = "snapshot-required"
    title = "Une sauvegarde réussie doit nommer son instantané"


class ReportOfAnotherAgent(Conflict):
    """A report id is the agent's idempotency key: another agent cannot reuse it."""

    code = "report-of-another-agent"
    title = "Cet identifiant de rapport appartient à un autre agent"


class RunOfAnotherAgent(Conflict):
    code = "run-of-another-agent"
    title = "Cette sauvegarde n'a pas été rapportée par cet agent"


class RepositoryServerUnavailable(DomainError):
    """The enrolment committed but the repository server did not take the new user in time;
    enrolling again (a new token) gives a new password."""

    status = 503
    code = "repository-server-unavailable"
    title = "Le serveur de dépôts ne répond pas"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


CATALOGUE: tuple[type[DomainError], ...] = tuple(
    value
    for value in list(globals().values())
    if isinstance(value, type) and issubclass(value, DomainError) and value.__module__ == __name__
)
