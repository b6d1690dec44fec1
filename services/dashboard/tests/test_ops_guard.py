"""Every operational page answers 303 to /login without a session, and every one of their forms
refuses a post without the session's CSRF token (or from another origin) before doing anything."""

from __future__ import annotations

import uuid

from .conftest import Dashboard

ID = uuid.uuid4()
PAGES = [
    "/evenements", "/evenements/flux", "/evenements/lettres-mortes", "/evenements/taches",
    "/videos", f"/videos/{ID}", f"/videos/{ID}/lecture", f"/videos/{ID}/apercu",
    "/licences", f"/licences/comptes/{ID}/mot-de-passe",
    "/facturation", "/facturation/tarifs", f"/facturation/factures/{ID}",
    f"/facturation/factures/{ID}/pdf", f"/facturation/avoirs/{ID}/pdf",
    "/sauvegardes", f"/sauvegardes/{ID}", "/journal", "/admin",
]  # fmt: skip
FORMS = [
    "/evenements/lettres-mortes/billing/1/rejouer", "/evenements/taches/billing/1/relancer",
    "/videos", f"/videos/{ID}/commentaires", f"/videos/{ID}/liens",
    f"/videos/{ID}/liens/{ID}/revoquer", f"/licences/comptes/{ID}/mot-de-passe",
    "/licences/taches/1/relancer", f"/facturation/factures/{ID}/paiements",
    "/admin/operateurs", f"/admin/operateurs/{ID}/roles", f"/admin/operateurs/{ID}/desactiver",
    f"/admin/operateurs/{ID}/activer", f"/admin/operateurs/{ID}/reinitialiser",
]  # fmt: skip


async def test_pages_without_a_session_go_to_the_sign_in(dashboard: Dashboard) -> None:
    for path in PAGES:
        answer = await dashboard.client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/login", path
    for path in FORMS:
        answer = await dashboard.client.post(path, data={"csrf_token": "x"})
        assert answer.status_code == 303, path


async def test_every_form_refuses_a_missing_or_foreign_csrf_token(dashboard: Dashboard) -> None:
    initial = await dashboard.add_operator("root@prisme.re", "admin")
    jar = await dashboard.sign_in_http("root@prisme.re", initial, "un cheval bleu traverse la baie")
    token = await dashboard.client.get("/evenements", headers=jar)
    csrf = token.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    for path in FORMS:
        missing = await dashboard.client.post(path, data={}, headers=jar)
        assert missing.status_code == 403, path
        assert "Requête refusée" in missing.text, path
        foreign = {**jar, "Origin": "https://evil.example"}
        crossed = await dashboard.client.post(path, data={"csrf_token": csrf}, headers=foreign)
        assert crossed.status_code == 403, path
