"""The pure Graph step logic, table-driven: every Graph answer it handles (L1, L3, L4)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from prisme_licence import domain
from prisme_licence import graph_steps as steps
from prisme_licence.graph import GraphRequest, GraphResponse

POLICY = steps.StepPolicy(
    usage_location="FR",
    max_attempts=5,
    backoff_base_seconds=2.0,
    backoff_cap_seconds=60.0,
    seat_recheck_seconds=30.0,
)
ACCOUNT_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
MARK = steps.ownership_marker(ACCOUNT_ID)
SKU = "sku-o365"


def work(
    kind: str = "provision", step: str = "lookup", attempts: int = 0, **acc: Any
) -> steps.Work:
    account = {
        "id": ACCOUNT_ID,
        "upn": "jerome.lebon@cabinet.re",
        "display_name": "Jérôme Lebon",
        "first_name": "Jérôme",
        "last_name": "Lebon",
        "graph_user_id": "g-1",
        "sku": "O365_BUSINESS",
        "alert": None,
    } | acc
    return steps.Work(1, kind, step, attempts, account)


def answer(status: int, body: Any = None, **headers: str) -> GraphResponse:
    return GraphResponse("0", status, dict(headers), body)


def error(status: int, message: str) -> GraphResponse:
    return answer(status, {"error": {"code": "x", "message": message}})


def user(**kw: Any) -> dict[str, Any]:
    return {
        "id": "g-1",
        "userPrincipalName": "jerome.lebon@cabinet.re",
        "employeeId": MARK,
        "accountEnabled": True,
        "assignedLicenses": [],
    } | kw


# (kind, step, answer) → (next step, status, event, account changes, delay)
CASES: list[tuple[str, str, str, GraphResponse, tuple[Any, ...]]] = [
    # provisioning
    (
        "lookup, nobody: create",
        "provision",
        "lookup",
        answer(200, {"value": []}),
        ("create", "queued", None, {}, None),
    ),
    (
        "lookup, ours, unlicensed: assign",
        "provision",
        "lookup",
        answer(200, {"value": [user()]}),
        ("assign", "queued", None, {"graph_user_id": "g-1"}, None),
    ),
    (
        "lookup, ours, disabled: enable",
        "provision",
        "lookup",
        answer(200, {"value": [user(accountEnabled=False)]}),
        ("enable", "queued", None, {"graph_user_id": "g-1"}, None),
    ),
    (
        "lookup, ours, licensed: done",
        "provision",
        "lookup",
        answer(200, {"value": [user(assignedLicenses=[{"skuId": SKU}])]}),
        (
            "done",
            "done",
            "provisioned",
            {"graph_user_id": "g-1", "status": "active", "alert": None},
            None,
        ),
    ),
    (
        "create 201: assign",
        "provision",
        "create",
        answer(201, {"id": "g-9"}),
        ("assign", "queued", None, {"graph_user_id": "g-9"}, None),
    ),
    (
        "create 400 exists (a lost record): look up",
        "provision",
        "create",
        error(
            400, "Another object with the same value for property userPrincipalName already exists."
        ),
        ("lookup", "queued", None, {}, None),
    ),
    (
        "create 409 exists: look up",
        "provision",
        "create",
        error(409, "The user already exists."),
        ("lookup", "queued", None, {}, None),
    ),
    (
        "create 400 usageLocation: back-off",
        "provision",
        "create",
        error(400, "Invalid value specified for property 'usageLocation'."),
        ("create", "queued", None, {}, 2.0),
    ),
    (
        "enable 204: assign",
        "provision",
        "enable",
        answer(204),
        ("assign", "queued", None, {}, None),
    ),
    (
        "enable 404: look up again",
        "provision",
        "enable",
        error(404, "not found"),
        ("lookup", "queued", None, {"graph_user_id": None}, None),
    ),
    (
        "assign 200: provisioned",
        "provision",
        "assign",
        answer(200, {"id": "g-1"}),
        ("done", "done", "provisioned", {"status": "active", "alert": None}, None),
    ),
    (
        "assign 400 no seat: wait, alert once",
        "provision",
        "assign",
        error(400, "License assignment failed because there are no available licenses."),
        (
            "assign",
            "queued",
            "failed",
            {"alert": domain.no_seat_alert("O365_BUSINESS", "t-1")},
            30.0,
        ),
    ),
    (
        "assign 404: look up again",
        "provision",
        "assign",
        error(404, "gone"),
        ("lookup", "queued", None, {"graph_user_id": None}, None),
    ),
    # revocation (L3)
    (
        "find, nobody: revoked",
        "revoke",
        "find",
        answer(200, {"value": []}),
        ("done", "done", "revoked", {"status": "revoked", "alert": None}, None),
    ),
    (
        "find, a stranger: nothing of ours",
        "revoke",
        "find",
        answer(200, {"value": [user(employeeId="someone-else")]}),
        ("done", "done", "revoked", {"status": "revoked", "alert": None}, None),
    ),
    (
        "find, ours: disable",
        "revoke",
        "find",
        answer(200, {"value": [user()]}),
        ("disable", "queued", None, {"graph_user_id": "g-1"}, None),
    ),
    (
        "disable 204: revoke sessions",
        "revoke",
        "disable",
        answer(204),
        ("revoke_sessions", "queued", None, {}, None),
    ),
    (
        "revoke sessions 200: remove licence",
        "revoke",
        "revoke_sessions",
        answer(200, {"value": True}),
        ("unlicense", "queued", None, {}, None),
    ),
    (
        "unlicense 200: delete",
        "revoke",
        "unlicense",
        answer(200, {}),
        ("delete", "queued", None, {}, None),
    ),
    (
        "unlicense 400 not licensed: delete",
        "revoke",
        "unlicense",
        error(400, "User does not have a corresponding license."),
        ("delete", "queued", None, {}, None),
    ),
    (
        "delete 204: revoked",
        "revoke",
        "delete",
        answer(204),
        ("done", "done", "revoked", {"status": "revoked", "alert": None}, None),
    ),
    (
        "delete 404 (gone already): revoked",
        "revoke",
        "delete",
        error(404, "not found"),
        ("done", "done", "revoked", {"status": "revoked", "alert": None}, None),
    ),
    (
        "disable 404 (gone already): revoked",
        "revoke",
        "disable",
        error(404, "not found"),
        ("done", "done", "revoked", {"status": "revoked", "alert": None}, None),
    ),
    # throttling and outages (L4)
    (
        "429 Retry-After 7: wait as told, no attempt",
        "provision",
        "create",
        answer(429, None, **{"Retry-After": "7"}),
        ("create", "queued", None, {}, 7.0),
    ),
    ("503: back-off", "revoke", "delete", answer(503), ("delete", "queued", None, {}, 2.0)),
    (
        "network (0): back-off",
        "provision",
        "assign",
        answer(0),
        ("assign", "queued", None, {}, 2.0),
    ),
    (
        "look-up 403: back-off",
        "provision",
        "lookup",
        error(403, "forbidden"),
        ("lookup", "queued", None, {}, 2.0),
    ),
]


@pytest.mark.parametrize(
    ("kind", "step", "resp", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_graph_answer(
    kind: str, step: str, resp: GraphResponse, expected: tuple[Any, ...]
) -> None:
    out = steps.interpret(work(kind, step), resp, POLICY, tenant="t-1", sku_id=SKU)
    assert (out.step, out.status, out.event, out.account, out.delay) == expected


def test_429_is_no_attempt_and_failures_count_until_failed() -> None:
    throttled = steps.interpret(
        work(step="create", attempts=3),
        answer(429, None, **{"Retry-After": "120"}),
        POLICY,
        tenant="t",
        sku_id=SKU,
    )
    assert (throttled.attempts, throttled.delay) == (None, 120.0)
    third = steps.interpret(
        work(step="create", attempts=2), answer(503), POLICY, tenant="t", sku_id=SKU
    )
    assert (third.attempts, third.delay) == (3, domain.backoff_seconds(3, 2.0, 60.0))
    last = steps.interpret(
        work(step="create", attempts=4), answer(503), POLICY, tenant="t", sku_id=SKU
    )
    assert (last.status, last.event, last.reason, last.attempts) == (
        "failed",
        "failed",
        "graph_unavailable",
        5,
    )
    assert last.account == {
        "status": "failed",
        "alert": "Échec de la création du compte : Microsoft Graph indisponible (graph_unavailable)",
    }
    refused = steps.interpret(
        work(step="assign", attempts=4),
        error(400, "usageLocation missing"),
        POLICY,
        tenant="t",
        sku_id=SKU,
    )
    assert (refused.status, refused.reason) == ("failed", "graph_refused")


def test_the_alert_for_a_missing_seat_is_raised_once() -> None:
    alert = domain.no_seat_alert("O365_BUSINESS", "t-1")
    again = steps.interpret(
        work(step="assign", alert=alert),
        error(400, "no available licenses"),
        POLICY,
        tenant="t-1",
        sku_id=SKU,
    )
    assert (again.event, again.delay) == (None, 30.0)


def test_a_stranger_holding_the_login_asks_for_another() -> None:
    out = steps.interpret(
        work(step="lookup"),
        answer(
            200, {"value": [user(employeeId="other", userPrincipalName="jerome.lebon@cabinet.re")]}
        ),
        POLICY,
        tenant="t",
        sku_id=SKU,
    )
    assert (out.step, out.new_upn) == ("lookup", "jerome.lebon@cabinet.re")


# -- requests -----------------------------------------------------------------------------------


def test_the_create_request_carries_the_sealed_password_and_our_marker() -> None:
    (req,) = steps.requests_for("3", work(step="create"), POLICY, password="S3cret!x", sku_id=None)
    assert (req.method, req.url) == ("POST", "/users")
    assert req.body is not None
    assert req.body["passwordProfile"] == {
        "password": "S3cret!x",
        "forceChangePasswordNextSignIn": True,
    }
    assert (req.body["usageLocation"], req.body["employeeId"]) == ("FR", MARK)
    assert req.body["mailNickname"] == "jerome.lebon"
    lost = steps.requests_for("3", work(step="create"), POLICY, password=None, sku_id=None)
    assert isinstance(lost, steps.Outcome)
    assert (lost.status, lost.reason) == ("failed", "credential_lost")


@pytest.mark.parametrize(
    ("step", "method", "url", "body"),
    [
        (
            "lookup",
            "GET",
            "/users?$filter=userPrincipalName%20eq%20%27jerome.lebon%40cabinet.re%27",
            None,
        ),
        ("enable", "PATCH", "/users/g-1", {"accountEnabled": True}),
        (
            "assign",
            "POST",
            "/users/g-1/assignLicense",
            {"addLicenses": [{"skuId": SKU, "disabledPlans": []}], "removeLicenses": []},
        ),
    ],
)
def test_provisioning_requests(step: str, method: str, url: str, body: Any) -> None:
    (req,) = steps.requests_for("0", work(step=step), POLICY, password=None, sku_id=SKU)
    assert (req.method, req.url, req.body) == (method, url, body)


def test_a_quote_in_the_login_is_escaped_in_the_filter() -> None:
    assert "o%27%27hara" in steps.filter_url("o'hara@cabinet.re")


def test_a_revocation_is_one_chain_in_the_l3_order() -> None:
    reqs = steps.requests_for("4", work("revoke", "disable"), POLICY, password=None, sku_id=SKU)
    assert not isinstance(reqs, steps.Outcome)
    assert [(r.id, r.method, r.url, r.depends_on) for r in reqs] == [
        ("4.0", "PATCH", "/users/g-1", ()),
        ("4.1", "POST", "/users/g-1/revokeSignInSessions", ("4.0",)),
        ("4.2", "POST", "/users/g-1/assignLicense", ("4.1",)),
        ("4.3", "DELETE", "/users/g-1", ("4.2",)),
    ]
    assert reqs[2].body == {"addLicenses": [], "removeLicenses": [SKU]}
    # resumed from where it stopped
    rest = steps.requests_for("5", work("revoke", "unlicense"), POLICY, password=None, sku_id=SKU)
    assert not isinstance(rest, steps.Outcome)
    assert [r.url for r in rest] == ["/users/g-1/assignLicense", "/users/g-1"]


def test_a_revocation_of_an_account_never_created_starts_by_finding_it() -> None:
    assert steps.local_step(work("revoke", "disable", graph_user_id=None)) == "find"
    assert steps.local_step(work("revoke", "disable")) == "disable"
    assert steps.local_step(work("provision", "lookup", graph_user_id=None)) == "lookup"


def test_partial_batch_failures_stop_the_chain_where_it_failed() -> None:
    w = work("revoke", "disable")
    reqs = steps.requests_for("0", w, POLICY, password=None, sku_id=SKU)
    assert not isinstance(reqs, steps.Outcome)
    done = {r.id: answer(204 if r.method != "POST" else 200, {}) for r in reqs}
    assert steps.interpret_chain(w, reqs, done, POLICY, tenant="t", sku_id=SKU).event == "revoked"
    # sessions revoked refused with 503; the two after it fail their dependency (424)
    partial = {
        "0.0": answer(204),
        "0.1": answer(503),
        "0.2": error(424, "failed dependency"),
        "0.3": error(424, "failed dependency"),
    }
    out = steps.interpret_chain(w, reqs, partial, POLICY, tenant="t", sku_id=SKU)
    assert (out.step, out.status, out.delay, out.attempts) == ("revoke_sessions", "queued", 2.0, 1)
    # an item missing from the $batch answer is retried, never taken as done
    missing = {"0.0": answer(204), "0.1": answer(200, {})}
    out = steps.interpret_chain(w, reqs, missing, POLICY, tenant="t", sku_id=SKU)
    assert (out.step, out.delay) == ("unlicense", 2.0)


def test_batches_hold_at_most_twenty_requests_and_never_split_a_chain() -> None:
    chain = [steps.Work(i, "revoke", "disable", 0, {}) for i in range(6)]
    groups = [(w, [GraphRequest(f"{w.job_id}.{k}", "GET", "/") for k in range(4)]) for w in chain]
    packed = steps.pack(groups, 20)
    assert [len(c) for c in packed] == [5, 1]
    assert all(sum(len(r) for _, r in c) <= 20 for c in packed)
