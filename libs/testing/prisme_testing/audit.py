"""O3 for any service: every successful mutating route writes an audit row.

:func:`assert_mutations_audited` walks the service's OpenAPI document; for every ``POST``,
``PUT``, ``PATCH`` and ``DELETE`` operation it needs either an example call (a per-service
table: a :class:`Call`, or a coroutine that prepares what the call needs and returns it) or a
reason why the route is deliberately not audited. It makes each call, requires a 2xx answer,
and then requires at least one new row in ``GET /v1/audit`` whose ``actor`` is the caller's
``sub``, and no secret of the answer (a value under a secret-naming key: a password shown once,
a webhook secret) in those rows (R5). A mutating route missing from both tables fails the
walk, so a new route cannot go unaudited by omission::

    EXAMPLES = {
        "POST /v1/clients": Call("/v1/clients", json=new_client()),
        "POST /v1/contracts/{contract_id}/activate": activate_example,  # async (client) -> Call
    }
    NOT_AUDITED = {"POST /v1/webhooks/stripe": "Stripe's own call, logged in webhook_events"}
    report = await assert_mutations_audited(client, EXAMPLES, NOT_AUDITED, sub="op-alice")
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from prisme_chassis.audit import is_secret_key

MUTATING = ("post", "put", "patch", "delete")

#: The chassis' own mutating routes, audited by the chassis and walked on the demo service
#: (libs/chassis/tests/test_audit.py); a service's walk need not set up a dead job or letter.
CHASSIS_ROUTES: dict[str, str] = {
    "POST /v1/jobs/{job_id}/retry": "chassis route: audited as job.retried, walked on the demo",
    "POST /v1/dead-letters/{seq}/replay": (
        "chassis route: audited as dead_letter.replayed, walked on the demo"
    ),
}


@dataclass(frozen=True)
class Call:
    """One request: a concrete path and what it sends (JSON, form fields, files, query)."""

    path: str
    json: Any = None
    data: Mapping[str, Any] | None = None
    files: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: the actor of the row when it is not the walker's ``sub``: a second operator approving a
    #: four-eyes request; ending in ``:``, a prefix (``agent:``, whose id the call creates)
    sub: str | None = None


Example = Call | Callable[[httpx.AsyncClient], Awaitable[Call]]


@dataclass
class Report:
    """What the walk did: routes called and audited, routes exempted with their reason."""

    audited: list[str] = field(default_factory=list)
    exempt: dict[str, str] = field(default_factory=dict)


def mutating_routes(openapi: Mapping[str, Any]) -> list[str]:
    """``"METHOD /template"`` of every mutating operation of an OpenAPI document."""
    return [
        f"{method.upper()} {template}"
        for template, operations in openapi.get("paths", {}).items()
        for method in operations
        if method in MUTATING
    ]


async def _latest_id(client: httpx.AsyncClient) -> int:
    resp = await client.get("/v1/audit", params={"limit": 1})
    assert resp.status_code == 200, f"GET /v1/audit answered {resp.status_code}: {resp.text}"
    items = resp.json()["items"]
    return int(items[0]["id"]) if items else 0


async def _rows_since(client: httpx.AsyncClient, after_id: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await client.get("/v1/audit", params=params)).json()
        fresh = [r for r in page["items"] if int(r["id"]) > after_id]
        rows += fresh
        cursor = page["next_cursor"]
        if cursor is None or len(fresh) < len(page["items"]):
            return rows


def _secrets(value: Any, under_secret: bool = False) -> list[str]:
    """String values under secret-naming keys in a JSON answer (long enough to search for)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _secrets(item, under_secret or is_secret_key(str(key)))
    elif isinstance(value, list):
        for item in value:
            found += _secrets(item, under_secret)
    elif isinstance(value, str) and under_secret and len(value) >= 8:
        found.append(value)
    return found


async def assert_mutations_audited(
    client: httpx.AsyncClient,
    examples: Mapping[str, Example],
    not_audited: Mapping[str, str],
    *,
    sub: str,
) -> Report:
    """Call every mutating route of the service behind ``client`` (whose default headers carry
    a token with ``sub`` and enough scopes, reading ``/v1/audit`` included) and fail on one
    that answered 2xx and wrote no audit row by ``sub``. Keys of both tables are
    ``"METHOD /template"`` as in the OpenAPI document; a key that names no route fails too
    (a stale table)."""
    openapi = (await client.get("/openapi.json")).json()
    routes = mutating_routes(openapi)
    assert routes, "the OpenAPI document lists no mutating route"
    not_audited = {
        **{r: why for r, why in CHASSIS_ROUTES.items() if r in routes and r not in examples},
        **not_audited,
    }
    stale = sorted((set(examples) | set(not_audited)) - set(routes))
    assert not stale, f"the tables name routes the service does not have: {stale}"
    both = sorted(set(examples) & set(not_audited))
    assert not both, f"routes both exempted and given an example: {both}"
    report = Report()
    failures: list[str] = []
    for route in routes:
        if route in not_audited:
            reason = not_audited[route].strip()
            if not reason:
                failures.append(f"{route}: exempted without a reason")
            report.exempt[route] = reason
            continue
        example = examples.get(route)
        if example is None:
            failures.append(f"{route}: no example call (add one, or exempt it with a reason)")
            continue
        call = example if isinstance(example, Call) else await example(client)
        method = route.split(" ", 1)[0]
        before = await _latest_id(client)
        resp = await client.request(
            method,
            call.path,
            json=call.json,
            data=call.data,
            files=call.files,
            params=call.params,
            headers=dict(call.headers),
        )
        if not resp.is_success:
            failures.append(f"{route}: the example got {resp.status_code}: {resp.text[:500]}")
            continue
        caller = call.sub or sub
        rows = [
            r
            for r in await _rows_since(client, before)
            if r["actor"] == caller or (caller.endswith(":") and r["actor"].startswith(caller))
        ]
        if not rows:
            failures.append(
                f"{route}: answered {resp.status_code} and wrote no audit row by {caller}"
            )
            continue
        answer: Any = None
        if resp.content and resp.headers.get("content-type", "").startswith("application/json"):
            answer = resp.json()
        trail = json.dumps(rows)
        leaked = [s for s in _secrets(answer) if s in trail]
        if leaked:
            failures.append(f"{route}: a secret of the answer is in the audit trail")
            continue
        report.audited.append(route)
    assert not failures, "mutating routes without their audit row (O3):\n" + "\n".join(failures)
    return report
