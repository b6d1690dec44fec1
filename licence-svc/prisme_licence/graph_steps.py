"""The Graph step logic, pure (L1, L3, L4): no I/O, no clock, no randomness.

Given an account's state and the step its job is at, :func:`requests_for` says which Graph
request(s) to send; given Graph's answer, :func:`interpret` (one answer) and
:func:`interpret_chain` (a revocation's ``dependsOn`` chain) say the outcome: the next step,
a retry after a delay, a failure, the account changes and the event to publish. The runner
(``jobs``) does the I/O around it: leases, ``$batch`` calls, sealing, persistence.

Provisioning: ``lookup`` → ``create`` (with the sealed initial password) → ``assign``, with
``enable`` when an existing user of ours is disabled. Revocation (L3): ``find`` →
``disable`` → ``revoke_sessions`` → ``unlicense`` → ``delete``, sent as one chain.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from . import domain
from .graph import GraphRequest, GraphResponse

#: L3: the order a revocation takes; sent linked by ``dependsOn`` so Graph stops at the first
#: error and fails the rest with 424.
REVOKE_CHAIN = ("disable", "revoke_sessions", "unlicense", "delete")
_NEXT_IN_REVOCATION = {
    "disable": "revoke_sessions",
    "revoke_sessions": "unlicense",
    "unlicense": "delete",
    "delete": "done",
}


@dataclass(frozen=True)
class StepPolicy:
    """The settings the step logic reads."""

    usage_location: str = "FR"
    max_attempts: int = 25
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 300.0
    seat_recheck_seconds: float = 60.0


@dataclass
class Work:
    """A leased job as the step logic sees it: its step, attempts and its account's row."""

    job_id: int
    kind: str  # provision | revoke
    step: str
    attempts: int
    account: dict[str, Any]


@dataclass
class Outcome:
    """What a step's answer means. ``status`` queued (``delay`` None: go on at once with
    ``step``), done or failed; ``account`` the columns to change; ``event`` provisioned,
    revoked or failed; ``new_upn``: the login is a stranger's, pick another one."""

    step: str
    status: str = "queued"
    delay: float | None = None
    attempts: int | None = None
    error: str | None = None
    account: dict[str, Any] = field(default_factory=dict)
    event: str | None = None
    reason: str = ""
    new_upn: str | None = None

    @property
    def advances(self) -> bool:
        return self.status == "queued" and self.delay is None


def ownership_marker(account_id: uuid.UUID) -> str:
    """Stored in the Graph user's ``employeeId`` (16 chars max) so a look-up can tell our
    account from a stranger who already holds the same login in the tenant."""
    return account_id.hex[:16]


def filter_url(upn: str) -> str:
    value = upn.replace("'", "''")
    return "/users?$filter=" + quote(f"userPrincipalName eq '{value}'", safe="")


def local_step(w: Work) -> str:
    """A revocation of an account never created in Graph starts by finding it."""
    if w.kind == "revoke" and w.step in REVOKE_CHAIN and not w.account["graph_user_id"]:
        return "find"
    return w.step


# -- the request to send ----------------------------------------------------------------------


def request_for(
    rid: str, w: Work, policy: StepPolicy, *, password: str | None, sku_id: str | None
) -> GraphRequest | Outcome:
    """The one Graph request of ``w``'s step (or an outcome when it cannot be sent)."""
    a = w.account
    gid = a["graph_user_id"]
    if w.step in ("lookup", "find"):
        return GraphRequest(rid, "GET", filter_url(a["upn"]))
    if w.step == "create":
        if password is None:
            return failed(w, "initial password no longer available", "credential_lost")
        local = a["upn"].split("@")[0]
        return GraphRequest(
            rid,
            "POST",
            "/users",
            {
                "accountEnabled": True,
                "displayName": a["display_name"],
                "givenName": a["first_name"],
                "surname": a["last_name"],
                "mailNickname": local,
                "userPrincipalName": a["upn"],
                "usageLocation": policy.usage_location,
                "employeeId": ownership_marker(a["id"]),
                "passwordProfile": {"password": password, "forceChangePasswordNextSignIn": True},
            },
        )
    if w.step == "enable":
        return GraphRequest(rid, "PATCH", f"/users/{gid}", {"accountEnabled": True})
    if w.step in ("assign", "unlicense") and sku_id is None:
        return failed(w, f"{w.step}: no sku id resolved", "bug")
    if w.step == "assign":
        return GraphRequest(
            rid,
            "POST",
            f"/users/{gid}/assignLicense",
            {"addLicenses": [{"skuId": sku_id, "disabledPlans": []}], "removeLicenses": []},
        )
    if w.step == "disable":
        return GraphRequest(rid, "PATCH", f"/users/{gid}", {"accountEnabled": False})
    if w.step == "revoke_sessions":
        return GraphRequest(rid, "POST", f"/users/{gid}/revokeSignInSessions")
    if w.step == "unlicense":
        return GraphRequest(
            rid,
            "POST",
            f"/users/{gid}/assignLicense",
            {"addLicenses": [], "removeLicenses": [sku_id]},
        )
    if w.step == "delete":
        return GraphRequest(rid, "DELETE", f"/users/{gid}")
    return failed(w, f"unknown step {w.step}", "bug")


def requests_for(
    rid: str, w: Work, policy: StepPolicy, *, password: str | None, sku_id: str | None
) -> list[GraphRequest] | Outcome:
    """The job's next request, or for a revocation its whole remaining chain linked by
    ``dependsOn`` (L3: disable → revoke sessions → remove licence → delete)."""
    if w.kind == "revoke" and w.step in REVOKE_CHAIN:
        chain = REVOKE_CHAIN[REVOKE_CHAIN.index(w.step) :]
        reqs: list[GraphRequest] = []
        for k, step in enumerate(chain):
            one = request_for(
                f"{rid}.{k}", replace(w, step=step), policy, password=password, sku_id=sku_id
            )
            if isinstance(one, Outcome):
                return one
            if reqs:
                one = replace(one, depends_on=(reqs[-1].id,))
            reqs.append(one)
        return reqs
    one = request_for(rid, w, policy, password=password, sku_id=sku_id)
    return one if isinstance(one, Outcome) else [one]


def pack(
    groups: list[tuple[Work, list[GraphRequest]]], size: int
) -> list[list[tuple[Work, list[GraphRequest]]]]:
    """Split request groups into ``$batch`` calls of at most ``size`` requests, never
    splitting a group (``dependsOn`` only works inside one batch)."""
    chunks: list[list[tuple[Work, list[GraphRequest]]]] = []
    current: list[tuple[Work, list[GraphRequest]]] = []
    count = 0
    for group in groups:
        n = len(group[1])
        if current and count + n > size:
            chunks.append(current)
            current, count = [], 0
        current.append(group)
        count += n
    if current:
        chunks.append(current)
    return chunks


# -- the outcome of an answer ----------------------------------------------------------------------


def transient(w: Work, policy: StepPolicy, error: str, retry_after: float | None) -> Outcome:
    """5xx, network, throttling: retried; a 429 waits its ``Retry-After`` and is no attempt."""
    if retry_after is not None:  # throttled: normal, wait as told, not an attempt (L4)
        return Outcome(w.step, delay=retry_after, error=error)
    attempts = w.attempts + 1
    if attempts >= policy.max_attempts:
        return failed(w, error, "graph_unavailable", attempts)
    delay = domain.backoff_seconds(
        attempts, policy.backoff_base_seconds, policy.backoff_cap_seconds
    )
    return Outcome(w.step, delay=delay, attempts=attempts, error=error)


def failed(w: Work, error: str, reason: str, attempts: int | None = None) -> Outcome:
    return Outcome(
        w.step,
        status="failed",
        attempts=attempts,
        error=error,
        account={"status": "failed", "alert": domain.failure_alert(w.kind, reason)},
        event="failed",
        reason=reason,
    )


def no_seat(w: Work, tenant: str, policy: StepPolicy) -> Outcome:
    """No free licence: wait and check again; alert (and ``licence.failed``) once."""
    alert = domain.no_seat_alert(str(w.account["sku"]), tenant)
    first = w.account["alert"] != alert
    return Outcome(
        "assign",
        delay=policy.seat_recheck_seconds,
        account={"alert": alert},
        event="failed" if first else None,
        reason="no_free_seat",
        error=alert,
    )


def provisioned(upd: dict[str, Any]) -> Outcome:
    return Outcome(
        "done",
        status="done",
        account={**upd, "status": "active", "alert": None},
        event="provisioned",
    )


def revoked() -> Outcome:
    return Outcome(
        "done", status="done", account={"status": "revoked", "alert": None}, event="revoked"
    )


def interpret(
    w: Work, r: GraphResponse, policy: StepPolicy, *, tenant: str, sku_id: str | None
) -> Outcome:
    """What Graph's answer ``r`` to ``w``'s step means. ``sku_id``: the tenant's id of the
    account's licence, when known (a looked-up user who has it already is done)."""
    if r.status == 429:
        return transient(
            w, policy, "throttled", domain.retry_after_seconds(r.header("Retry-After"))
        )
    if r.status >= 500 or r.status == 0:
        said = f" : {r.error_message}" if r.error_message else ""  # Graph's own words, if any
        what = f"Graph a répondu {r.status}" if r.status else "Graph injoignable"
        return transient(w, policy, f"{what}{said}", None)
    a = w.account
    step = w.step
    if step in ("lookup", "find"):
        if not r.ok:
            return transient(w, policy, f"look-up answered {r.status}", None)
        found = list(r.body.get("value", [])) if isinstance(r.body, dict) else []
        if not found:
            return revoked() if step == "find" else Outcome("create")
        user = found[0]
        if user.get("employeeId") != ownership_marker(a["id"]):
            if step == "find":
                return revoked()  # not ours: nothing of ours to revoke
            return Outcome("lookup", new_upn=user["userPrincipalName"])
        upd = {"graph_user_id": user["id"]}
        if step == "find":
            return Outcome("disable", account=upd)
        if not user.get("accountEnabled", True):
            return Outcome("enable", account=upd)
        if sku_id and any(lic.get("skuId") == sku_id for lic in user.get("assignedLicenses") or []):
            return provisioned(upd)
        return Outcome("assign", account=upd)
    if step == "create":
        if r.status == 201:
            return Outcome("assign", account={"graph_user_id": r.body["id"]})
        if r.status in (400, 409) and "already exists" in r.error_message:
            return Outcome("lookup")  # created by an earlier try whose record was lost
    if step == "enable":
        if r.ok:
            return Outcome("assign")
        if r.status == 404:
            return Outcome("lookup", account={"graph_user_id": None})
    if step == "assign":
        if r.ok:
            return provisioned({})
        if r.status == 400 and "available licenses" in r.error_message:
            return no_seat(w, tenant, policy)
        if r.status == 404:
            return Outcome("lookup", account={"graph_user_id": None})
    if step in _NEXT_IN_REVOCATION:
        gone = r.status == 404  # already deleted by an earlier try: nothing left to do
        not_licensed = (
            step == "unlicense" and r.status == 400 and "corresponding license" in r.error_message
        )
        if gone or (step == "delete" and r.ok):
            return revoked()
        if r.ok or not_licensed:
            return Outcome(_NEXT_IN_REVOCATION[step])
    # Refused (400 usageLocation, 403…): retried with back-off in case it is a passing state,
    # then failed with the alert.
    attempts = w.attempts + 1
    if attempts >= policy.max_attempts:
        return failed(w, f"{step}: {r.status} {r.error_message}", "graph_refused", attempts)
    return Outcome(
        step,
        attempts=attempts,
        error=f"{step}: {r.status} {r.error_message}"[:500],
        delay=domain.backoff_seconds(
            attempts, policy.backoff_base_seconds, policy.backoff_cap_seconds
        ),
    )


def interpret_chain(
    w: Work,
    reqs: list[GraphRequest],
    responses: dict[str, GraphResponse],
    policy: StepPolicy,
    *,
    tenant: str,
    sku_id: str | None,
) -> Outcome:
    """Walk a job's answers in order (a partial ``$batch`` failure: a missing answer is a 502,
    a 424 the failed dependency); stop at the first one that does not advance it."""
    step = w.step
    outcome = Outcome(step)
    for req in reqs:
        resp = responses.get(req.id) or GraphResponse(req.id, 502)
        outcome = interpret(replace(w, step=step), resp, policy, tenant=tenant, sku_id=sku_id)
        if not (outcome.advances and outcome.step != step):
            return outcome
        step = outcome.step
    return outcome
