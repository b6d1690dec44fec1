"""French labels of the services' codes, for the pages (registered as Jinja2 globals)."""

from __future__ import annotations

from .render import TEMPLATES

USER_ROLES = {
    "practitioner": "Praticien",
    "assistant": "Assistant(e)",
    "secretary": "Secrétaire",
    "employee": "Employé(e)",
}
ASSET_KINDS = {"workstation": "Poste", "server": "Serveur", "peripheral": "Périphérique"}
ASSET_FORMS = {"physical": "Physique", "virtual": "Virtuel"}
SUPPLIERS = {
    "provider": "Le prestataire",
    "partner": "Un partenaire référencé",
    "third_party": "Un tiers",
}
CONTRACT_STATUSES = {
    "draft": "Brouillon",
    "active": "Actif",
    "ended": "Terminé",
    "cancelled": "Annulé",
}
TERMINATION_STATUSES = {
    "pending": "En attente de validation",
    "approved": "Approuvée",
    "rejected": "Refusée",
    "withdrawn": "Retirée",
}
#: C3, each criterion and the part of the practice's page it concerns
CRITERIA = {
    "postal_code": "Situé à La Réunion",
    "single_network": "Un seul réseau local",
    "internet_speed": "Débit internet suffisant",
    "asset_supplier": "Équipements du prestataire ou d'un partenaire",
    "windows_os": "Postes sous Windows",
}
INVOICE_STATUSES = {
    "issued": "Émise",
    "open": "À payer",
    "paid": "Payée",
    "payment_failed": "Paiement échoué",
    "credited": "Soldée par avoir",
}
ACCOUNT_STATUSES = {
    "pending": "En cours de création",
    "active": "Active",
    "failed": "En échec",
    "revoked": "Retirée",
}
PLAN_STATUSES = {"active": "actif", "ended": "terminé", "purged": "purgé"}
AUDIT_ACTIONS = {
    "client.created": "Cabinet créé",
    "client.corrected": "Fiche corrigée",
    "user.added": "Utilisateur ajouté",
    "user.changed": "Utilisateur modifié",
    "user.removed": "Utilisateur retiré",
    "asset.added": "Équipement ajouté",
    "asset.changed": "Équipement modifié",
    "asset.removed": "Équipement retiré",
    "network.set": "Réseau déclaré",
    "eligibility.override_recorded": "Dérogation d'éligibilité accordée",
    "eligibility.override_revoked": "Dérogation retirée",
    "eligibility.override_expired": "Dérogation expirée",
    "contract.amended": "Avenant au contrat",
    "contract.eligibility_changed": "Conformité du contrat modifiée",
    "contract.created": "Contrat créé",
    "contract.activated": "Contrat activé",
    "contract.cancelled": "Contrat annulé",
    "contract.ended": "Contrat terminé",
    "termination.requested": "Cessation demandée",
    "termination.approved": "Cessation approuvée",
    "termination.rejected": "Cessation refusée",
    "termination.withdrawn": "Cessation retirée",
    "intervention.recorded": "Intervention enregistrée",
}

TEMPLATES.env.globals.update(
    user_roles=USER_ROLES,
    asset_kinds=ASSET_KINDS,
    asset_forms=ASSET_FORMS,
    suppliers=SUPPLIERS,
    contract_statuses=CONTRACT_STATUSES,
    termination_statuses=TERMINATION_STATUSES,
    criteria=CRITERIA,
    invoice_statuses=INVOICE_STATUSES,
    account_statuses=ACCOUNT_STATUSES,
    plan_statuses=PLAN_STATUSES,
    audit_actions=AUDIT_ACTIONS,
)


def label(table: dict[str, str], code: str | None) -> str:
    """The French label, or the code itself when the service added one we do not know."""
    if code is None:
        return "—"
    return table.get(code, code)


TEMPLATES.env.filters["libelle"] = lambda code, table: label(table, code)
