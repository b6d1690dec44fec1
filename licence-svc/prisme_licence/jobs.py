"""The Graph job runner: leases jobs per tenant and drives them through ``$batch``.

A round takes up to ``batch_size`` leased jobs of one tenant and sends each job's next
request (provisioning: look-up, create, enable, assign — one at a time, each depends on the
previous answer) or, for a revocation, its whole remaining chain disable → revoke sessions →
remove licence → soft-delete linked by ``dependsOn`` so Graph runs it in that order and
fails the rest (424) at the first error (L3). Requests are packed into ``$batch`` calls of at
most 20; then one transaction records every job's progress, the account changes and the
events. A 429 waits for its own ``Retry-After`` (per item), 5xx and network errors back off
exponentially, and a lost worker's lease runs out so another worker takes the job over (L4).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import asyncpg
from prisme_chassis.bus import enqueue_many, next_version
from prisme_chassis.db import transaction
from prisme_events import LicenceFailed, LicenceProvisioned, LicenceRevoked
from prisme_events.licence import LicenceEvent

from . import domain
from . import repository as repo
from .graph import GraphAuthError, GraphClient, GraphRequest, GraphResponse, GraphUnavailable
from .passwords import PasswordSealer
from .settings import LicenceSettings

log = logging.getLogger(__name__)


def ownership_marker(account_id: uuid.UUID) -> str:
    """Stored in the Graph user's ``employeeId`` (16 chars max) so a look-up can tell our
    account from a stranger who already holds the same login in the tenant."""
    return account_id.hex[:16]


@dataclass
class Work:
    job_id: int
    kind: str
    step: str
    attempts: int
    account: dict[str, Any]


@dataclass
class Outcome:
    step: str
    status: str = "queued"
    delay: float | None = None
    attempts: int | None = None
    error: str | None = None
    account: dict[str, Any] = field(default_factory=dict)
    event: str | None = None
    reason: str = ""
    new_upn: str | None = None


REVOKE_CHAIN = ("disable", "revoke_sessions", "unlicense", "delete")


def _pack(
    groups: list[tuple[Work, list[GraphRequest]]], size: int
) -> list[list[tuple[Work, list[GraphRequest]]]]:
    """Split request groups into $batch calls of at most ``size`` requests, never splitting
    a group (dependsOn only works inside one batch)."""
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


def _filter_url(upn: str) -> str:
    value = upn.replace("'", "''")
    return "/users?$filter=" + quote(f"userPrincipalName eq '{value}'", safe="")


class JobRunner:
    def __init__(
        self,
        pool: asyncpg.Pool,
        graph: GraphClient,
        vault: PasswordSealer,
        settings: LicenceSettings,
    ) -> None:
        self.pool = pool
        self.graph = graph
        self.vault = vault
        self.settings = settings
        self.owner = f"licence-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._running: dict[str, int] = defaultdict(int)
        self._tasks: set[asyncio.Task[None]] = set()
        self._sku_ids: dict[tuple[str, str], str] = {}
        self._last_purge = 0.0

    # -- loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Worker loop (a chassis worker): woken by NOTIFY on new jobs, polls as a fallback."""
        listener = await self.pool.acquire()
        try:
            await listener.add_listener(repo.JOBS_CHANNEL, self._on_notify)
            while True:
                due_in = await self.tick()
                # Floor: a due job may be blocked behind an older job of its account; do not spin.
                timeout = min(self.settings.job_poll_seconds, max(0.1, due_in))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=timeout)
                self._wake.clear()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await listener.remove_listener(repo.JOBS_CHANNEL, self._on_notify)
            await self.pool.release(listener)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def tick(self) -> float:
        """Start drain tasks for tenants with ready work, within the concurrency limits;
        return the seconds until the next delayed job is due."""
        now = time.monotonic()
        async with self.pool.acquire() as conn:
            if now - self._last_purge > 5:
                self._last_purge = now
                await repo.purge_expired_credentials(conn)
            tenants = await repo.ready_tenants(conn, self.settings.max_concurrent_batches)
            due_in = await repo.seconds_to_next_due(conn)
        for tenant in tenants:
            while (
                self._running[tenant] < self.settings.per_tenant_concurrency
                and len(self._tasks) < self.settings.max_concurrent_batches
            ):
                self._running[tenant] += 1
                task = asyncio.create_task(self._drain(tenant))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        return self.settings.job_poll_seconds if due_in is None else due_in

    async def _drain(self, tenant: str) -> None:
        worked = False
        try:
            while True:
                works = await self._claim(tenant)
                if not works:
                    return
                worked = True
                while works:
                    works = await self._round(tenant, works)
        except Exception:
            log.exception(
                "graph job round failed for tenant %s; jobs retry when their lease ends", tenant
            )
        finally:
            self._running[tenant] -= 1
            if worked:  # more may be ready now (next steps, freed accounts)
                self._wake.set()

    async def _claim(self, tenant: str) -> list[Work]:
        async with transaction(self.pool) as conn:
            rows = await repo.claim_jobs(
                conn, tenant, self.owner, self.settings.batch_size, self.settings.job_lease_seconds
            )
            accounts = await repo.accounts_by_ids(conn, [r["account_id"] for r in rows])
            works = [
                Work(r["id"], r["kind"], r["step"], r["attempts"], dict(accounts[r["account_id"]]))
                for r in rows
            ]
            return works

    # -- one round --------------------------------------------------------------------------
    async def _round(self, tenant: str, works: list[Work]) -> list[Work]:
        for w in works:  # local transitions needing no request
            if (
                w.kind == "revoke"
                and w.step in ("disable", "revoke_sessions", "unlicense", "delete")
                and not w.account["graph_user_id"]
            ):
                w.step = "find"
        passwords = await self._passwords([w for w in works if w.step == "create"])
        outcomes: dict[int, Outcome] = {}
        seats = await self._seats(tenant, works, outcomes)

        # Each job contributes its next request, or for a revocation the whole remaining chain
        # linked by dependsOn (Graph runs it in order and fails the rest with 424 at the first
        # error), packed into $batch calls of at most 20 requests.
        groups: list[tuple[Work, list[GraphRequest]]] = []
        for i, w in enumerate(works):
            if w.job_id in outcomes:
                continue
            reqs = self._requests(str(i), w, passwords, seats, tenant)
            if isinstance(reqs, Outcome):
                outcomes[w.job_id] = reqs
            else:
                groups.append((w, reqs))
        for chunk in _pack(groups, self.settings.batch_size):
            try:
                responses = await self.graph.batch(tenant, [r for _, reqs in chunk for r in reqs])
            except GraphUnavailable as exc:
                for w, _ in chunk:
                    outcomes[w.job_id] = self._transient(w, str(exc), exc.retry_after)
                continue
            except GraphAuthError as exc:  # configuration: retried with back-off, then failed
                for w, _ in chunk:
                    outcomes[w.job_id] = self._transient(w, str(exc), None)
                continue
            for w, reqs in chunk:
                outcomes[w.job_id] = self._interpret_chain(tenant, w, reqs, responses)
        return await self._persist(works, outcomes)

    async def _passwords(self, works: list[Work]) -> dict[int, str]:
        """The initial password of each account about to be created, sealed and committed
        BEFORE the Graph call so a crash in between never leaves a user we cannot hand over."""
        out: dict[int, str] = {}
        if not works:
            return out
        async with transaction(self.pool) as conn:
            for w in works:
                aid = w.account["id"]
                row = await repo.get_credential(conn, aid)
                if row is None:
                    # First creation, or a new life after a revocation (the old password went
                    # with the deleted user). Look-up-before-create still prevents duplicates.
                    password = domain.initial_password()
                    nonce, sealed = self.vault.seal(aid, password)
                    await repo.insert_credential(conn, aid, nonce, sealed)
                    w.account["credential_state"] = "available"
                    out[w.job_id] = password
                else:
                    out[w.job_id] = self.vault.open(aid, row["nonce"], row["ciphertext"])
        return out

    async def _seats(
        self, tenant: str, works: list[Work], outcomes: dict[int, Outcome]
    ) -> dict[int, str]:
        """Resolve sku ids and hand free seats to the jobs about to assign a licence.

        Returns job id → sku id for the jobs that may proceed; the others get an outcome."""
        needing = [
            w
            for w in works
            if w.step == "assign"
            or (w.kind == "revoke" and w.step in REVOKE_CHAIN and w.account["graph_user_id"])
        ]
        if not needing:
            return {}
        if all(w.step != "assign" for w in needing):
            cached = {w.job_id: self._sku_ids.get((tenant, w.account["sku"])) for w in needing}
            if all(cached.values()):  # removing a licence needs only the sku id, known already
                return {k: v for k, v in cached.items() if v}
        try:
            resp = await self.graph.request(tenant, GraphRequest("skus", "GET", "/subscribedSkus"))
        except (GraphUnavailable, GraphAuthError) as exc:
            resp = GraphResponse("skus", 503, {}, {"error": {"message": str(exc)}})
        if not resp.ok:
            for w in needing:
                outcomes[w.job_id] = self._interpret(tenant, w, resp)
            return {}
        skus = {s["skuPartNumber"]: s for s in resp.body.get("value", [])}
        for part, sku in skus.items():
            self._sku_ids[(tenant, part)] = sku["skuId"]
        allowed: dict[int, str] = {}
        free: dict[str, int] = {
            p: int(s["prepaidUnits"]["enabled"]) - int(s["consumedUnits"]) for p, s in skus.items()
        }
        for w in needing:
            part = w.account["sku"]
            sku = skus.get(part)
            if sku is None:
                outcomes[w.job_id] = self._failed(
                    w, f"tenant has no {part} subscription", "sku_not_found"
                )
                continue
            if w.step == "assign":
                if free.get(part, 0) <= 0:
                    outcomes[w.job_id] = self._no_seat(w, tenant)
                    continue
                free[part] -= 1
            allowed[w.job_id] = sku["skuId"]
        return allowed

    def _requests(
        self, rid: str, w: Work, passwords: dict[int, str], seats: dict[int, str], tenant: str
    ) -> list[GraphRequest] | Outcome:
        if w.kind == "revoke" and w.step in REVOKE_CHAIN:
            chain = REVOKE_CHAIN[REVOKE_CHAIN.index(w.step) :]
            reqs: list[GraphRequest] = []
            for k, step in enumerate(chain):
                one = self._request(f"{rid}.{k}", tenant, replace(w, step=step), passwords, seats)
                if isinstance(one, Outcome):
                    return one
                if reqs:
                    one = replace(one, depends_on=(reqs[-1].id,))
                reqs.append(one)
            return reqs
        one = self._request(rid, tenant, w, passwords, seats)
        return one if isinstance(one, Outcome) else [one]

    def _interpret_chain(
        self, tenant: str, w: Work, reqs: list[GraphRequest], responses: dict[str, GraphResponse]
    ) -> Outcome:
        """Walk a job's responses in order; stop at the first one that does not advance it."""
        step = w.step
        outcome = Outcome(step)
        for req in reqs:
            resp = responses.get(req.id) or GraphResponse(req.id, 502)
            outcome = self._interpret(tenant, replace(w, step=step), resp)
            advanced = outcome.status == "queued" and outcome.delay is None and outcome.step != step
            if not advanced:
                return outcome
            step = outcome.step
        return outcome

    def _request(
        self, rid: str, tenant: str, w: Work, passwords: dict[int, str], seats: dict[int, str]
    ) -> GraphRequest | Outcome:
        a = w.account
        gid = a["graph_user_id"]
        if w.step in ("lookup", "find"):
            return GraphRequest(rid, "GET", _filter_url(a["upn"]))
        if w.step == "create":
            password = passwords.get(w.job_id)
            if password is None:
                return self._failed(w, "initial password no longer available", "credential_lost")
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
                    "usageLocation": self.settings.usage_location,
                    "employeeId": ownership_marker(a["id"]),
                    "passwordProfile": {
                        "password": password,
                        "forceChangePasswordNextSignIn": True,
                    },
                },
            )
        if w.step == "enable":
            return GraphRequest(rid, "PATCH", f"/users/{gid}", {"accountEnabled": True})
        if w.step == "assign":
            return GraphRequest(
                rid,
                "POST",
                f"/users/{gid}/assignLicense",
                {
                    "addLicenses": [{"skuId": seats[w.job_id], "disabledPlans": []}],
                    "removeLicenses": [],
                },
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
                {"addLicenses": [], "removeLicenses": [seats[w.job_id]]},
            )
        if w.step == "delete":
            return GraphRequest(rid, "DELETE", f"/users/{gid}")
        return self._failed(w, f"unknown step {w.step}", "bug")

    # -- outcomes -----------------------------------------------------------------------------
    def _transient(self, w: Work, error: str, retry_after: float | None) -> Outcome:
        if retry_after is not None:  # throttled: normal, wait as told, not an attempt (L4)
            return Outcome(w.step, delay=retry_after, error=error)
        attempts = w.attempts + 1
        if attempts >= self.settings.max_attempts:
            return self._failed(w, error, "graph_unavailable", attempts)
        delay = domain.backoff_seconds(
            attempts, self.settings.backoff_base_seconds, self.settings.backoff_cap_seconds
        )
        return Outcome(w.step, delay=delay, attempts=attempts, error=error)

    def _failed(self, w: Work, error: str, reason: str, attempts: int | None = None) -> Outcome:
        return Outcome(
            w.step,
            status="failed",
            attempts=attempts,
            error=error,
            account={"status": "failed", "alert": f"{w.kind} failed: {reason}"},
            event="failed",
            reason=reason,
        )

    def _no_seat(self, w: Work, tenant: str) -> Outcome:
        alert = f"no free {w.account['sku']} seat in tenant {tenant}"
        first = w.account["alert"] != alert
        return Outcome(
            "assign",
            delay=self.settings.seat_recheck_seconds,
            account={"alert": alert},
            event="failed" if first else None,
            reason="no_free_seat",
            error=alert,
        )

    def _interpret(self, tenant: str, w: Work, r: GraphResponse) -> Outcome:
        if r.status == 429:
            return self._transient(
                w, "throttled", domain.retry_after_seconds(r.header("Retry-After"))
            )
        if r.status >= 500 or r.status == 0:
            return self._transient(w, f"Graph answered {r.status}", None)
        a = w.account
        step = w.step
        if step in ("lookup", "find"):
            if not r.ok:
                return self._transient(w, f"look-up answered {r.status}", None)
            found = list(r.body.get("value", []))
            if not found:
                if step == "find":
                    return self._done_revoked(w)
                return Outcome("create")
            user = found[0]
            if user.get("employeeId") != ownership_marker(a["id"]):
                if step == "find":
                    return self._done_revoked(w)  # not ours: nothing of ours to revoke
                return Outcome("lookup", new_upn=user["userPrincipalName"])
            upd = {"graph_user_id": user["id"]}
            if step == "find":
                return Outcome("disable", account=upd)
            sku_id = self._sku_ids.get((tenant, a["sku"]))
            if not user.get("accountEnabled", True):
                return Outcome("enable", account=upd)
            if sku_id and any(
                lic.get("skuId") == sku_id for lic in user.get("assignedLicenses") or []
            ):
                return self._done_provisioned(w, upd)
            return Outcome("assign", account=upd)
        if step == "create":
            if r.status == 201:
                return Outcome("assign", account={"graph_user_id": r.body["id"]})
            if r.status == 400 and "already exists" in r.error_message:
                return Outcome("lookup")  # created by an earlier try whose commit was lost
        if step == "enable":
            if r.ok:
                return Outcome("assign")
            if r.status == 404:
                return Outcome("lookup", account={"graph_user_id": None})
        if step == "assign":
            if r.ok:
                return self._done_provisioned(w, {})
            if r.status == 400 and "available licenses" in r.error_message:
                return self._no_seat(w, tenant)
            if r.status == 404:
                return Outcome("lookup", account={"graph_user_id": None})
        nxt = {
            "disable": "revoke_sessions",
            "revoke_sessions": "unlicense",
            "unlicense": "delete",
            "delete": "done",
        }
        if step in nxt:
            gone = r.status == 404  # already deleted by an earlier try: nothing left to do
            not_licensed = (
                step == "unlicense"
                and r.status == 400
                and "corresponding license" in r.error_message
            )
            if gone or (step == "delete" and r.ok):
                return self._done_revoked(w)
            if r.ok or not_licensed:
                return Outcome(nxt[step])
        attempts = w.attempts + 1
        if attempts >= self.settings.max_attempts:
            return self._failed(
                w, f"{step}: {r.status} {r.error_message}", "graph_refused", attempts
            )
        return Outcome(
            step,
            attempts=attempts,
            error=f"{step}: {r.status} {r.error_message}"[:500],
            delay=domain.backoff_seconds(
                attempts, self.settings.backoff_base_seconds, self.settings.backoff_cap_seconds
            ),
        )

    def _done_provisioned(self, w: Work, upd: dict[str, Any]) -> Outcome:
        return Outcome(
            "done",
            status="done",
            account={**upd, "status": "active", "alert": None},
            event="provisioned",
        )

    def _done_revoked(self, w: Work) -> Outcome:
        return Outcome(
            "done", status="done", account={"status": "revoked", "alert": None}, event="revoked"
        )

    # -- persist --------------------------------------------------------------------------------
    async def _persist(self, works: list[Work], outcomes: dict[int, Outcome]) -> list[Work]:
        """One transaction per round, set-based: job progress, account changes, events."""
        s = self.settings
        keep: list[Work] = []
        async with transaction(self.pool) as conn:
            rows = []
            for w in works:
                o = outcomes[w.job_id]
                continuing = o.status == "queued" and o.delay is None
                attempts = o.attempts if o.attempts is not None else w.attempts
                rows.append((w.job_id, o.step, o.status, attempts, o.delay, o.error, continuing))
            ours = await repo.save_jobs(conn, self.owner, rows, s.job_lease_seconds)
            lost = [w.job_id for w in works if w.job_id not in ours]
            if lost:  # cancelled or taken over meanwhile: their effects are not ours to record
                await repo.release_jobs(conn, lost, self.owner)
            events = []
            provisioned: list[uuid.UUID] = []
            revoked: list[uuid.UUID] = []
            for w in works:
                if w.job_id not in ours:
                    continue
                o = outcomes[w.job_id]
                a = w.account
                upd = dict(o.account)
                if o.new_upn:
                    local = domain.upn_local_part(a["first_name"], a["last_name"])
                    taken = await repo.upns_like(conn, a["graph_tenant"], local)
                    upd["upn"] = domain.unique_upn(
                        a["first_name"], a["last_name"], a["upn"].split("@")[1], [*taken, o.new_upn]
                    )
                if o.event == "revoked":
                    revoked.append(a["id"])
                elif upd:
                    await repo.set_account_state(conn, a["id"], **upd)
                a.update(upd)
                if o.event == "provisioned":
                    provisioned.append(a["id"])
                if o.event:
                    version = await next_version(conn, "licence_account", a["id"])
                    events.append(self._event(o, a, version))
                w.step = o.step
                if o.attempts is not None:
                    w.attempts = o.attempts
                if o.status == "queued" and o.delay is None:
                    keep.append(w)
            if revoked:
                await repo.mark_revoked(conn, revoked)
            if provisioned:
                await repo.start_credential_clocks(conn, provisioned, s.credential_ttl_seconds)
            if events:
                await enqueue_many(conn, events)
        return keep

    @staticmethod
    def _event(o: Outcome, a: dict[str, Any], version: int) -> LicenceEvent:
        facts = {
            "account_id": a["id"],
            "version": version,
            "client_id": a["client_id"],
            "contract_id": a["contract_id"],
            "user_id": a["user_id"],
            "upn": a["upn"],
            "sku": a["sku"],
        }
        if o.event == "provisioned":
            return LicenceProvisioned(**facts)
        if o.event == "revoked":
            return LicenceRevoked(**facts)
        return LicenceFailed(**facts, reason=o.reason)
