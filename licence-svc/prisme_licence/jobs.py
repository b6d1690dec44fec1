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
from typing import Any

import asyncpg
from prisme_chassis import clock
from prisme_chassis.bus import enqueue_many, next_version
from prisme_chassis.db import transaction
from prisme_events import LicenceFailed, LicenceProvisioned, LicenceRevoked
from prisme_events.licence import LicenceEvent

from . import domain
from . import graph_steps as steps
from . import repository as repo
from .graph import GraphAuthError, GraphClient, GraphRequest, GraphResponse, GraphUnavailable
from .graph_steps import Outcome, Work
from .passwords import PasswordSealer
from .settings import LicenceSettings

log = logging.getLogger(__name__)


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
        self.policy = steps.StepPolicy(
            usage_location=settings.usage_location,
            max_attempts=settings.max_attempts,
            backoff_base_seconds=settings.backoff_base_seconds,
            backoff_cap_seconds=settings.backoff_cap_seconds,
            seat_recheck_seconds=settings.seat_recheck_seconds,
        )
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
                await repo.purge_expired_credentials(conn, clock.now())
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
            w.step = steps.local_step(w)
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
            reqs = steps.requests_for(
                str(i), w, self.policy, password=passwords.get(w.job_id), sku_id=seats.get(w.job_id)
            )
            if isinstance(reqs, Outcome):
                outcomes[w.job_id] = reqs
            else:
                groups.append((w, reqs))
        for chunk in steps.pack(groups, self.settings.batch_size):
            try:
                responses = await self.graph.batch(tenant, [r for _, reqs in chunk for r in reqs])
            except GraphUnavailable as exc:
                for w, _ in chunk:
                    outcomes[w.job_id] = steps.transient(w, self.policy, str(exc), exc.retry_after)
                continue
            except GraphAuthError as exc:  # configuration: retried with back-off, then failed
                for w, _ in chunk:
                    outcomes[w.job_id] = steps.transient(w, self.policy, str(exc), None)
                continue
            for w, reqs in chunk:
                outcomes[w.job_id] = steps.interpret_chain(
                    w,
                    reqs,
                    responses,
                    self.policy,
                    tenant=tenant,
                    sku_id=self._sku_ids.get((tenant, w.account["sku"])),
                )
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
            or (w.kind == "revoke" and w.step in steps.REVOKE_CHAIN and w.account["graph_user_id"])
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
                outcomes[w.job_id] = steps.interpret(
                    w, resp, self.policy, tenant=tenant, sku_id=None
                )
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
                outcomes[w.job_id] = steps.failed(
                    w, f"tenant has no {part} subscription", "sku_not_found"
                )
                continue
            if w.step == "assign":
                if free.get(part, 0) <= 0:
                    outcomes[w.job_id] = steps.no_seat(w, tenant, self.policy)
                    continue
                free[part] -= 1
            allowed[w.job_id] = sku["skuId"]
        return allowed

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
                await repo.start_credential_clocks(
                    conn, provisioned, s.credential_ttl_seconds, clock.now()
                )
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
