"""Every page of the dashboard answers 303 to /login without a session, and every form refuses
a post without its CSRF token (issue 12), walked over the dashboard's own routes, so a page
added later is covered without touching this test."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from fastapi.routing import APIRoute
from prisme_dashboard.app import spec

if TYPE_CHECKING:
    from conftest import Dashboard

#: the pages one opens before signing in
BEFORE_SIGN_IN = {"/login", "/login/code", "/login/oidc", "/login/oidc/callback"}
PASSWORD = "une phrase de passe assez longue"


def _routes(method: str) -> list[str]:
    paths = [
        route.path
        for router in spec.public_routers
        for route in router.routes
        if isinstance(route, APIRoute) and method in route.methods
    ]
    assert len(paths) > 10, paths
    return sorted(set(paths))


def _concrete(path: str) -> str:
    """A route with its parameters filled in (ids, a service name, numbers)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "service":
            return "contracts"
        if name in {"seq", "job_id", "year"}:
            return "2026" if name == "year" else "1"
        return str(uuid.uuid4())

    return re.sub(r"\{([a-z_]+)\}", value, path)


async def test_every_page_sends_a_visitor_without_session_to_login(
    dashboard: Dashboard,
) -> None:
    pages = [p for p in _routes("GET") if p not in BEFORE_SIGN_IN]
    # the pages of issue 12 are among them
    for expected in ("/", "/cabinets", "/cabinets/{client_id}", "/contrats", "/a-valider"):
        assert expected in pages
    answered = {}
    for path in pages:
        r = await dashboard.client.get(_concrete(path), follow_redirects=False)
        answered[path] = (r.status_code, r.headers.get("location"))
    wrong = {p: a for p, a in answered.items() if a != (303, "/login")}
    assert not wrong, wrong


async def test_every_form_refuses_a_post_without_its_csrf_token(dashboard: Dashboard) -> None:
    initial = await dashboard.add_operator("lea@prisme.re", "admin", name="Léa Admin")
    jar = await dashboard.sign_in_http("lea@prisme.re", initial, PASSWORD)
    forms = [p for p in _routes("POST") if p not in BEFORE_SIGN_IN]
    for expected in ("/cabinets", "/cabinets/{client_id}/contrats/{contract_id}/activer"):
        assert expected in forms
    answered = {}
    for path in forms:
        r = await dashboard.client.post(
            _concrete(path), data={"note": "x", "name": "x"}, headers=jar, follow_redirects=False
        )
        answered[path] = r.status_code
        if r.status_code == 403:
            assert "Requête refusée" in r.text, path
    wrong = {p: s for p, s in answered.items() if s != 403}
    assert not wrong, wrong
    # the same session still works: the refusals changed nothing
    assert (await dashboard.client.get("/cabinets/nouveau", headers=jar)).status_code == 200

    # the sign-in form too: no token, no sign-in
    page = await dashboard.client.get("/login")
    cookie = {"Cookie": f"__Host-prisme_login={page.cookies['__Host-prisme_login']}"}
    r = await dashboard.client.post(
        "/login",
        data={"email": "lea@prisme.re", "password": PASSWORD},
        headers={**cookie, "Origin": dashboard.url},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert "__Host-prisme_session" not in r.headers.get("set-cookie", "")
