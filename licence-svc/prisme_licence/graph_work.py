"""The Graph work of a batch of leased jobs of one tenant (the chassis calls :meth:`handle`).

The chassis worker leases up to ``jobs_per_claim`` ready jobs of one tenant (jobs of one
account one at a time, in order) and calls :meth:`GraphWork.handle` outside any transaction.
It runs rounds until every job has an outcome: each job contributes its next request
(provisioning: look-up, create, enable, assign — each depends on the previous answer) or, for
a revocation, its whole remaining chain disable → revoke sessions → remove licence →
soft-delete linked by ``dependsOn`` so Graph runs it in that order and fails the rest (424) at
the first error (L3); requests are packed into ``$batch`` calls of at most 20, several in
flight per tenant (``per_tenant_concurrency``). The pure step logic (``graph_steps``) reads
each answer. The batch is then recorded by the worker in one short transaction, set-based
(:meth:`GraphWork._apply`): account changes, events with their versions, job transitions.

A 429 waits for its own ``Retry-After`` and is no attempt (L4); 5xx and network errors back
off; a job that can never succeed is ``dead`` and its account ``failed`` with an alert and a
``licence.failed`` event (:meth:`GraphWork.on_dead`). A crash between a Graph call and the
record repeats the run: the look-up before every create (our ``employeeId`` marker) keeps
each user single, and the revocation chain is harmless to repeat.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
from prisme_chassis import audit, clock, jobs
from prisme_chassis.bus import enqueue_many, next_versions
from prisme_chassis.db import transaction
from prisme_events import LicenceFailed, LicenceProvisioned, LicenceRevoked
from prisme_events.licence import LicenceEvent

from . import domain
from . import graph_jobs as gj
from . import graph_steps as steps
from . import repository as repo
from .graph import GraphAuthError, GraphClient, GraphRequest, GraphResponse, GraphUnavailable
from .graph_steps import Outcome, Work
from .passwords import PasswordSealer
from .settings import LicenceSettings

log = logging.getLogger(__name__)

#: The aggregate whose version licence events carry (DESIGN §3).
AGGREGATE = "licence_account"
#: Why a job died, as ``licence.failed`` says it; the error of a dead job starts with one.
#: Steps one run may take (a provisioning needs at most look-up, create, enable, assign).
MAX_ROUNDS = 8


@dataclass
class Result:
    """A job's run: its last step outcome and every account change made along the way."""

    work: Work
    outcome: Outcome
    account: dict[str, Any] = field(default_factory=dict)


class GraphWork:
    """The batch handler of both Graph job kinds, and its dead-job hook."""

    def __init__(
        self, pool: asyncpg.Pool, graph: GraphClient, vault: PasswordSealer, s: LicenceSettings
    ) -> None:
        self.pool = pool
        self.graph = graph
        self.vault = vault
        self.settings = s
        self.policy = steps.StepPolicy(
            usage_location=s.usage_location,
            max_attempts=s.max_attempts,
            backoff_base_seconds=s.backoff_base_seconds,
            backoff_cap_seconds=s.backoff_cap_seconds,
            seat_recheck_seconds=s.seat_recheck_seconds,
        )
        self._sku_ids: dict[tuple[str, str], str] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}

    def bindings(self) -> list[jobs.JobBinding]:
        """Both kinds, their policy from settings, bound to this handler (ServiceSpec.jobs)."""
        s = self.settings
        policy = {
            "max_attempts": s.max_attempts,
            "backoff_base": s.backoff_base_seconds,
            "backoff_cap": s.backoff_cap_seconds,
            "lease_seconds": s.job_lease_seconds,
            "concurrency": s.max_concurrent_batches,
            "batch_size": s.jobs_per_claim,
        }
        return [
            kind.with_policy(**policy).handle_batch(
                # licence.failed (on_dead) is the alert of a dead Graph job: no job.dead too
                self.handle,
                on_dead=self.on_dead,
                announce_death=False,
            )
            for kind in gj.KINDS
        ]

    # -- the run --------------------------------------------------------------------------
    async def handle(self, leased: Sequence[jobs.Job]) -> jobs.BatchOutcome:
        tenant = leased[0].group_key or self.settings.default_tenant
        async with self.pool.acquire() as conn:
            accounts = await repo.accounts_by_ids(
                cast(asyncpg.Connection, conn),
                [uuid.UUID(str(j.payload["account_id"])) for j in leased],
            )
        results: dict[int, Result] = {}
        works: list[Work] = []
        for j in leased:
            row = accounts.get(uuid.UUID(str(j.payload["account_id"])))
            if row is None:  # cannot happen (accounts are never deleted); recorded, not raised
                w = Work(j.id, gj.OPERATION[j.kind], str(j.payload["step"]), j.attempt - 1, {})
                results[j.id] = Result(w, steps.failed(w, "account row missing", "bug"))
                continue
            w = Work(j.id, gj.OPERATION[j.kind], str(j.payload["step"]), j.attempt - 1, dict(row))
            works.append(w)
        rounds = 0
        while works:
            rounds += 1
            if rounds > MAX_ROUNDS:  # a Graph that keeps sending us back: next claim goes on
                for w in works:
                    results[w.job_id].outcome = Outcome(w.step)
                break
            outcomes = await self._round(tenant, works)
            going: list[Work] = []
            for w in works:
                o = outcomes[w.job_id]
                r = results.setdefault(w.job_id, Result(w, o))
                r.outcome = o
                r.account.update(o.account)
                w.account.update(o.account)
                if o.attempts is not None:
                    w.attempts = o.attempts
                if o.advances and not o.new_upn and not o.event:
                    w.step = o.step
                    going.append(w)
            works = going
        return jobs.BatchOutcome(
            {jid: self._chassis_outcome(r) for jid, r in results.items()},
            apply=lambda conn, held: self._apply(conn, [results[i] for i in sorted(held)]),
        )

    @staticmethod
    def _chassis_outcome(r: Result) -> jobs.Outcome:
        o = r.outcome
        payload = {"account_id": str(r.work.account.get("id", "")), "step": o.step}
        if o.status == "done":
            return jobs.Done()
        if o.status == "failed":
            return jobs.Fail(f"{o.reason}: {o.error}")
        if o.delay is None:  # a new login name to pick (in the apply), then go on at once
            return jobs.Proceed(payload=payload)
        if o.attempts is None:  # throttled or waiting for a seat: normal, not a failed run
            return jobs.Retry(o.error or "waiting", after=o.delay, counts=False, payload=payload)
        return jobs.Retry(o.error or "retry", after=o.delay, payload=payload)

    async def _round(self, tenant: str, works: list[Work]) -> dict[int, Outcome]:
        for w in works:  # local transitions needing no request
            w.step = steps.local_step(w)
        passwords = await self._passwords([w for w in works if w.step == "create"])
        outcomes: dict[int, Outcome] = {}
        seats = await self._seats(tenant, works, outcomes)
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
        chunks = steps.pack(groups, self.settings.batch_size)
        answers = await asyncio.gather(*(self._send(tenant, chunk) for chunk in chunks))
        for chunk, answer in zip(chunks, answers, strict=True):
            for w, reqs in chunk:
                if isinstance(answer, Exception):
                    retry_after = (
                        answer.retry_after if isinstance(answer, GraphUnavailable) else None
                    )
                    outcomes[w.job_id] = steps.transient(w, self.policy, str(answer), retry_after)
                    continue
                outcomes[w.job_id] = steps.interpret_chain(
                    w,
                    reqs,
                    answer,
                    self.policy,
                    tenant=tenant,
                    sku_id=self._sku_ids.get((tenant, w.account["sku"])),
                )
        return outcomes

    async def _send(
        self, tenant: str, chunk: list[tuple[Work, list[GraphRequest]]]
    ) -> dict[str, GraphResponse] | GraphUnavailable | GraphAuthError:
        """One ``$batch`` call, at most ``per_tenant_concurrency`` in flight per tenant."""
        slots = self._slots.setdefault(
            tenant, asyncio.Semaphore(self.settings.per_tenant_concurrency)
        )
        async with slots:
            try:
                return await self.graph.batch(tenant, [r for _, reqs in chunk for r in reqs])
            except (GraphUnavailable, GraphAuthError) as exc:  # retried with back-off
                return exc

    async def _passwords(self, works: list[Work]) -> dict[int, str]:
        """The initial password of each account about to be created, sealed and committed
        BEFORE the Graph call so a crash in between never leaves a user we cannot hand over.
        One read and one write for the whole round."""
        if not works:
            return {}
        out: dict[int, str] = {}
        async with transaction(self.pool) as conn:
            stored = await repo.credentials_of(conn, [w.account["id"] for w in works])
            new: list[tuple[uuid.UUID, bytes, bytes]] = []
            for w in works:
                aid = w.account["id"]
                row = stored.get(aid)
                if row is None:
                    # First creation, or a new life after a revocation (the old password went
                    # with the deleted user). Look-up-before-create still prevents duplicates.
                    password = domain.initial_password()
                    nonce, sealed = self.vault.seal(aid, password)
                    new.append((aid, nonce, sealed))
                    w.account["credential_state"] = "available"
                    out[w.job_id] = password
                else:
                    out[w.job_id] = self.vault.open(aid, row["nonce"], row["ciphertext"])
            await repo.insert_credentials(conn, new)
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

    # -- the record (in the worker's transaction, jobs still held) --------------------------
    async def _apply(self, conn: asyncpg.Connection, results: list[Result]) -> None:
        """Set-based: account changes, revoked and provisioned accounts, events."""
        s = self.settings
        changes: list[tuple[uuid.UUID, dict[str, Any]]] = []
        revoked: list[uuid.UUID] = []
        provisioned: list[uuid.UUID] = []
        emitting: list[Result] = []
        for r in results:
            o = r.outcome
            a = r.work.account
            if not a:
                continue
            upd = dict(r.account)
            if o.new_upn:  # rare: a stranger holds the login; the next free one is ours
                local = domain.upn_local_part(a["first_name"], a["last_name"])
                taken = await repo.upns_like(conn, a["graph_tenant"], local)
                upd["upn"] = domain.unique_upn(
                    a["first_name"], a["last_name"], a["upn"].split("@")[1], [*taken, o.new_upn]
                )
                a["upn"] = upd["upn"]
            if o.status == "failed":
                upd = {k: v for k, v in upd.items() if k not in ("status", "alert")}  # on_dead
            if o.event == "revoked":
                revoked.append(a["id"])
                upd.pop("status", None)
                upd.pop("alert", None)
            elif o.event == "provisioned":
                provisioned.append(a["id"])
            if upd:
                changes.append((a["id"], upd))
            if o.event and o.status != "failed":
                emitting.append(r)
        await repo.update_accounts(conn, changes)
        if revoked:
            await repo.mark_revoked(conn, revoked)
        if provisioned:
            await repo.start_credential_clocks(
                conn, provisioned, s.credential_ttl_seconds, clock.now()
            )
        if emitting:
            versions = await next_versions(
                conn, AGGREGATE, [r.work.account["id"] for r in emitting]
            )
            await enqueue_many(
                conn,
                [
                    _event(r.outcome, r.work.account, versions[str(r.work.account["id"])])
                    for r in emitting
                ],
            )
            # O3: one row per account provisioned or revoked, in one statement
            by = audit.Actor.system("graph-worker")
            await audit.record_many(
                conn,
                [
                    audit.row(
                        by,
                        f"licence.{r.outcome.event}",
                        target_type="account",
                        target_id=r.work.account["id"],
                        client_id=r.work.account["client_id"],
                        detail={
                            "upn": r.work.account["upn"],
                            "contract_id": r.work.account["contract_id"],
                            "sku": r.work.account["sku"],
                        },
                    )
                    for r in emitting
                ],
            )

    async def on_dead(self, conn: asyncpg.Connection, job: jobs.Job, error: str) -> None:
        """A job that can never succeed (or ran out of attempts): the account is ``failed``
        with an alert, and ``licence.failed`` says why (L4: an operator retries the job)."""
        account_id = uuid.UUID(str(job.payload["account_id"]))
        acc = await repo.get_account(conn, account_id, lock=True)
        if acc is None:
            return
        head = error.split(":", 1)[0]
        reason = head if head in domain.FAILURE_REASONS else "graph_unavailable"
        kind = gj.OPERATION.get(job.kind, "job")
        await repo.update_accounts(
            conn, [(account_id, {"status": "failed", "alert": domain.failure_alert(kind, reason)})]
        )
        versions = await next_versions(conn, AGGREGATE, [account_id])
        failed = Outcome("failed", status="failed", event="failed", reason=reason)
        await enqueue_many(conn, [_event(failed, dict(acc), versions[str(account_id)])])
        await audit.record(
            conn,
            audit.Actor.system("graph-worker"),
            "licence.failed",
            target_type="account",
            target_id=account_id,
            client_id=acc["client_id"],
            detail={"upn": acc["upn"], "operation": kind, "reason": reason, "job_id": job.id},
        )


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
