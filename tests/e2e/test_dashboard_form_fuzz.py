"""R2 for the dashboard's HTML forms (issue 12): its POST routes outside its OpenAPI document
(schemathesis fuzzes the documented ones, services/dashboard/tests/test_api.py) are fuzzed with
hypothesis against the running platform, so the services' own refusals come back through the
pages. The sign-in forms (their own tests cover throttling and codes) and the operator's own
password change (it would end the fuzzing session) are left out.

For every form route, with random, missing and odd fields (the field names of the templates,
values from empty to 2,000 characters of any script, dates and numbers out of range):

- never a 5xx (a refusal is a readable page or a redirect, whatever was posted);
- a refusal that shows the same form again keeps what was typed in its text fields;
- without its CSRF token, every form is refused (403) whatever else it carries.
"""

from __future__ import annotations

import asyncio
import html
import re
import string
import uuid
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prisme_dashboard.app import spec
from test_dashboard_day import PASSWORD, add_operator, dashboard_url

if TYPE_CHECKING:
    from e2e_platform import Platform

__all__ = ["dashboard_url"]  # the fixture the test below uses

TEMPLATES = (
    Path(__file__).resolve().parents[2]
    / "services"
    / "dashboard"
    / "prisme_dashboard"
    / "web"
    / "templates"
)
#: forms one posts before signing in (their own tests cover them: throttling, codes)
BEFORE_SIGN_IN = {"/login", "/login/code", "/login/oidc", "/login/oidc/callback", "/logout"}
#: a success would change the fuzzing operator's own password and end its session
KEEP_SESSION = {"/password"}
ODD = [
    "",
    " ",
    "0",
    "-1",
    "1e309",
    "NaN",
    "9" * 40,
    "2026-02-30",
    "31/12/2026",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\x00",
    "\ufeff",
    "é" * 2000,
    str(uuid.uuid4()),
]


def form_routes() -> list[str]:
    paths = {
        route.path
        for router in spec.public_routers
        for route in router.routes
        if isinstance(route, APIRoute) and "POST" in route.methods and not route.include_in_schema
    }
    return sorted(paths - BEFORE_SIGN_IN - KEEP_SESSION)


def field_names() -> list[str]:
    """Every field name a template posts (plain inputs and the form macros' calls)."""
    found: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        found |= set(re.findall(r'name="([a-z_.]+)"', text))
        found |= set(re.findall(r'(?:input|select|textarea)\("[^"]*",\s*"([a-z_.]+)"', text))
    found.discard("csrf_token")
    return sorted(found)


def fields_of(route: str) -> list[str]:
    """The field names of the templates' post forms to ``route`` (its ``{parameters}`` are
    template expressions there)."""
    parts = re.split(r"\{[a-z_]+\}", route)
    action = '[^"]*'.join(re.escape(part) for part in parts)
    found: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        for form in re.findall(
            rf'<form[^>]*action="{action}"[^>]*>(.*?)</form>', template.read_text(), flags=re.S
        ):
            found |= set(re.findall(r'name="([a-z_.]+)"', form))
            found |= set(re.findall(r'(?:input|select|textarea)\("[^"]*",\s*"([a-z_.]+)"', form))
    found.discard("csrf_token")
    return sorted(found)


def concrete(path: str, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "service":
            return "contracts"
        if name in {"seq", "job_id"}:
            return "1"
        if name == "year":
            return "2026"
        return ids.get(name, str(uuid.uuid4()))

    return re.sub(r"\{([a-z_]+)\}", value, path)


values = st.one_of(
    st.sampled_from(ODD),
    st.text(string.ascii_letters + string.digits + " -'@.", min_size=1, max_size=30),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60),
    st.integers(-(10**12), 10**12).map(str),
    st.dates().map(lambda d: d.isoformat()),
)


def kept_in(page: str, action: str, name: str, value: str) -> bool | None:
    """Whether the form posting to ``action`` in ``page`` shows ``value`` in its text field
    ``name``; None when that page has no such form or field (nothing to keep there)."""
    forms = re.findall(
        rf'<form[^>]*method="post"[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>',
        page,
        flags=re.S,
    )
    for form in forms:
        field = re.search(
            rf'<(input|textarea)\b[^>]*\bname="{re.escape(name)}"[^>]*>', form, flags=re.S
        )
        if field is None:
            continue
        tag = field.group(0)
        kind = re.search(r'\btype="([a-z]+)"', tag)
        if field.group(1) == "input" and (kind.group(1) if kind else "text") not in (
            "text",
            "search",
            "email",
            "tel",
        ):
            return None
        return value in html.unescape(form)
    return None


async def sign_in(client: httpx.AsyncClient, dsn: str) -> tuple[dict[str, str], str]:
    """An operator with every role, signed in; its headers and the session's CSRF token."""
    initial = await add_operator(dsn, "fuzz@prisme.re", "admin", "Fuzz")
    page = await client.get("/login")
    origin = {"Origin": str(client.base_url).rstrip("/")}
    jar = {"Cookie": f"__Host-prisme_login={page.cookies['__Host-prisme_login']}", **origin}
    form = {"email": "fuzz@prisme.re", "password": initial, "csrf_token": csrf(page.text)}
    signed = await client.post("/login", data=form, headers=jar)
    assert signed.status_code == 303, signed.text
    jar = {"Cookie": f"__Host-prisme_session={signed.cookies['__Host-prisme_session']}", **origin}
    change = await client.get("/password", headers=jar)
    changed = await client.post(
        "/password",
        data={
            "current_password": initial,
            "new_password": PASSWORD,
            "confirm_password": PASSWORD,
            "csrf_token": csrf(change.text),
        },
        headers=jar,
    )
    assert changed.status_code == 303, changed.text
    jar = {"Cookie": f"__Host-prisme_session={changed.cookies['__Host-prisme_session']}", **origin}
    home = await client.get("/cabinets/nouveau", headers=jar)
    return jar, csrf(home.text)


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:300]
    return found.group(1)


async def test_the_forms_take_anything_without_a_5xx_and_keep_what_was_typed(
    platform: Platform, dashboard_url: tuple[str, str]
) -> None:
    base, dsn = dashboard_url
    routes, names = form_routes(), field_names()
    assert "/cabinets/{client_id}/derogation" in routes
    assert "reason" in names
    practice = await platform.practice(tag="Fuzz", users=1, workstations=1)
    ids = {"client_id": practice["id"]}
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False) as client:
        jar, token = await sign_in(client, dsn)

        def post(path: str, data: dict[str, str]) -> httpx.Response:
            future = asyncio.run_coroutine_threadsafe(
                client.post(path, data=data, headers=jar), loop
            )
            return future.result(60)

        own = {path: fields_of(path) for path in routes}
        # mostly the form's own fields (each kept or left out), with a few of any other form
        posts = st.sampled_from(routes).flatmap(
            lambda path: st.tuples(
                st.just(path),
                st.dictionaries(st.sampled_from(own[path] or names), values, max_size=12)
                | st.dictionaries(st.sampled_from(names), values, max_size=6),
            )
        )
        problems: list[str] = []
        seen: Counter[str] = Counter()

        @hsettings(
            max_examples=150,  # about 25 s: the suite stays under 15 minutes
            deadline=None,
            derandomize=True,  # the same examples every run: a failure is found again
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(post_=posts, with_token=st.sampled_from([True, True, True, False]))
        def fuzz(post_: tuple[str, dict[str, str]], with_token: bool) -> None:
            path, form = post_
            url = concrete(path, ids)
            data = {**form, "csrf_token": token} if with_token else form
            r = post(url, data)
            seen[f"{'token' if with_token else 'none'} {r.status_code} {path}"] += 1
            if r.status_code >= 500:
                problems.append(f"{r.status_code} POST {path} {form!r}: {r.text[:300]}")
            if not with_token:
                if r.status_code != 403:
                    problems.append(f"POST {path} without its token: {r.status_code}")
                return
            if 400 <= r.status_code < 500 and "text/html" in r.headers.get("content-type", ""):
                for name, value in form.items():
                    typed = value.strip()
                    if not typed or typed != value or not typed.isprintable():
                        continue
                    kept = kept_in(r.text, url, name, typed)
                    seen[f"kept {kept}"] += 1
                    if kept is False:
                        problems.append(
                            f"POST {path}: {name}={typed!r} not kept on {r.status_code}"
                        )

        await asyncio.to_thread(fuzz)
        assert not problems, "\n".join(problems[:20])
        # the properties were put to work: refusals that showed the form again (how many of
        # the fixed examples do depends on what the bus has delivered by then, so at least one)
        assert seen["kept True"] >= 1, seen
        # and one refusal checked explicitly: a user with a bad e-mail keeps every typed name
        url = concrete("/cabinets/{client_id}/utilisateurs", ids)
        typed = {"first_name": "Zoé", "last_name": "Técher", "email": "pas-un-courriel"}
        refused = await client.post(url, data={**typed, "csrf_token": token}, headers=jar)
        assert refused.status_code == 422, (refused.status_code, refused.text[:300])
        for name, value in typed.items():
            assert kept_in(refused.text, url, name, value), name
        assert sum(n for k, n in seen.items() if k.startswith("none 403")) >= 20, seen
        # found by this test: an unknown operator's actions answered 500 (now a 404 page)
        for action in ("activer", "desactiver", "reinitialiser"):
            r = await client.post(
                f"/admin/operateurs/{uuid.uuid4()}/{action}",
                data={"csrf_token": token},
                headers=jar,
            )
            assert r.status_code == 404, (action, r.status_code)
            assert "aucun opérateur" in html.unescape(r.text)
        # the session still works after all that
        assert (await client.get("/cabinets", headers=jar)).status_code == 200
