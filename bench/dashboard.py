"""P7 (DESIGN.md §8): the dashboard's server time per page, and event → open page latency.

1. Embedded PostgreSQL and nats-server; contracts-svc, billing-svc and the dashboard as their
   own processes (``python -m …``), the dashboard signing the operator's tokens.
2. Seed: ``--practices`` practices through ``POST /v1/clients``; ``--invoices`` invoices
   through the bus (``contract.activated`` published on JetStream, invoiced by billing-svc's
   consumer), waited for until billing lists them.
3. An admin signs in through the pages (password change included); each page below is read
   ``--requests`` times in a row and its p95 taken (the time seen by the client on loopback,
   i.e. the dashboard's whole server time including its calls to the services).
4. Event to browser: an ``EventSource``-like client holds ``/evenements/flux`` open while
   ``--events`` corrections (``PATCH /v1/clients/{id}``, C8 → ``client.corrected``) are made;
   each latency runs from sending the PATCH (before its commit) to the row arriving on the
   stream, so it includes the commit, the outbox relay, JetStream and the feed. p99.

Targets: every page p95 < 100 ms; event → page p99 < 1 s; in the worst of ``--runs``.
Baseline (same run): the dashboard's ``/healthz`` read the same way (the floor of any page).

Pages measured: Événements (feed, dead letters, dead jobs), Facturation (the list of every
invoice, one practice's list, an invoice's page), Journal d'audit, Administration, and when
they exist Cabinets and Contrats. Licences, Vidéos and Sauvegardes need their services, not
started here.

Usage: python bench/dashboard.py [--practices 10000] [--invoices 100000] [--requests 50]
       [--events 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
from _runs import Runs, Target, add_runs_argument
from prisme_chassis.keys import generate_keypair, mint_token
from prisme_dashboard import manage
from prisme_events import cloudevent_headers, encode
from prisme_localinfra import NatsServer, PostgresServer
from prisme_testing import factories
from prisme_testing.runner import ServiceProcess

PASSWORD = "une phrase de passe assez longue"


def siren(i: int) -> str:
    """A valid SIREN: 8 digits and the Luhn check digit."""
    base = f"{10_000_000 + i:08d}"
    for check in "0123456789":
        digits = [int(c) for c in base + check]
        total = sum(d if k % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                    for k, d in enumerate(digits))  # fmt: skip
        if total % 10 == 0:
            return base + check
    raise AssertionError("unreachable")


async def seed_practices(url: str, auth: str, n: int) -> list[str]:
    ids: list[str] = []
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": auth}, limits=limits,
                                 timeout=60) as api:  # fmt: skip

        async def one(i: int) -> None:
            r = await api.post(
                "/v1/clients",
                json={
                    "name": f"Cabinet médical n°{i}",
                    "siren": siren(i),
                    "manager": {"name": f"Dr Hoarau {i}", "email": f"cabinet{i}@example.re",
                                "phone": "0262123456"},
                    "address": {"line1": f"{i} rue de Paris", "postal_code": "97400",
                                "city": "Saint-Denis"},
                },
            )  # fmt: skip
            r.raise_for_status()
            ids.append(r.json()["id"])

        for start in range(0, n, 20):
            await asyncio.gather(*(one(i) for i in range(start, min(n, start + 20))))
    return ids


async def seed_invoices(nats_url: str, billing_dsn: str, practices: list[str], n: int) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for i in range(n):
        client_id = uuid.UUID(practices[i % len(practices)])
        event = factories.contract_activated(
            client=factories.client_snapshot(client_id, name=f"Cabinet médical {i}"),
            includes=[], postes=1 + i % 12, peripherals=0,
        )  # fmt: skip
        await js.publish(event.subject, encode(event), headers=cloudevent_headers(event))
    await nc.close()
    # billing-svc's list answers at most 500 documents: count in its database instead
    conn = await asyncpg.connect(billing_dsn)
    try:
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            count = await conn.fetchval("SELECT count(*) FROM documents WHERE kind = 'invoice'")
            print(f"  billing has {count:,} of {n:,} invoices", flush=True)
            if count >= n:
                return
            await asyncio.sleep(5)
    finally:
        await conn.close()
    raise TimeoutError("billing did not invoice every activation")


async def sign_in(url: str, dsn: str) -> dict[str, str]:
    out = io.StringIO()
    argv = ["operators", "add", "bench@prisme.re", "--role", "admin", "--name", "Bench"]
    assert await manage.execute(argv, dsn, out) == 0, out.getvalue()
    found = re.search(r"une seule fois\) : (\S+)", out.getvalue())
    assert found
    initial = found.group(1)

    def csrf(html: str) -> str:
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert m
        return m.group(1)

    async with httpx.AsyncClient(base_url=url) as web:
        page = await web.get("/login")
        jar = {"Cookie": f"__Host-prisme_login={page.cookies['__Host-prisme_login']}",
               "Origin": url}  # fmt: skip
        form = {"email": "bench@prisme.re", "password": initial, "csrf_token": csrf(page.text)}
        signed = await web.post("/login", data=form, headers=jar)
        jar = {"Cookie": f"__Host-prisme_session={signed.cookies['__Host-prisme_session']}",
               "Origin": url}  # fmt: skip
        change = await web.get("/password", headers=jar)
        form = {"current_password": initial, "new_password": PASSWORD,
                "confirm_password": PASSWORD, "csrf_token": csrf(change.text)}  # fmt: skip
        changed = await web.post("/password", data=form, headers=jar)
        assert changed.status_code == 303, changed.text
        return {"Cookie": f"__Host-prisme_session={changed.cookies['__Host-prisme_session']}"}


async def page_times(
    url: str, jar: dict[str, str], paths: dict[str, str], n: int
) -> dict[str, float]:
    figures: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url, headers=jar, timeout=60) as web:
        for name, path in paths.items():
            first = await web.get(path)
            if first.status_code == 404:
                continue  # a page not built yet
            first.raise_for_status()
            took = []
            for _ in range(n):
                start = time.perf_counter()
                r = await web.get(path)
                took.append((time.perf_counter() - start) * 1000)
                r.raise_for_status()
            figures[name] = statistics.quantiles(took, n=20)[18]
            print(f"  {name:<34} p95 {figures[name]:8.1f} ms  ({path})", flush=True)
    return figures


async def event_latency(url: str, jar: dict[str, str], contracts: str, auth: str,
                        practices: list[str], n: int) -> float:  # fmt: skip
    """p99 (ms) from a correction's PATCH to its row on an open feed."""
    arrived: dict[str, float] = {}
    sent: dict[str, float] = {}
    ready = asyncio.Event()

    async def listen() -> None:
        async with (
            httpx.AsyncClient(base_url=url, headers=jar, timeout=None) as web,
            web.stream("GET", "/evenements/flux?subject=client.corrected") as r,
        ):
            ready.set()
            data: list[str] = []
            async for line in r.aiter_lines():
                if line.startswith("data: "):
                    data.append(line)
                    continue
                if line or not data:
                    continue
                now, row = time.perf_counter(), "\n".join(data)  # one whole event
                data = []
                for client_id in sent:
                    if client_id in row and client_id not in arrived:
                        arrived[client_id] = now

    task = asyncio.create_task(listen())
    await ready.wait()
    await asyncio.sleep(0.5)
    async with httpx.AsyncClient(base_url=contracts, headers={"Authorization": auth}) as api:
        for i in range(n):
            client_id = practices[i]
            sent[client_id] = time.perf_counter()
            r = await api.patch(f"/v1/clients/{client_id}", json={"name": f"Cabinet corrigé {i}"})
            r.raise_for_status()
            await asyncio.sleep(0.1)
        deadline = time.monotonic() + 30
        while len(arrived) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    task.cancel()
    missing = n - len(arrived)
    if missing:
        print(f"  {missing} corrections never reached the feed", flush=True)
        return float("inf")
    lat = sorted((arrived[c] - sent[c]) * 1000 for c in sent)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"  event → page: p50 {lat[len(lat) // 2]:.1f} ms, p99 {p99:.1f} ms", flush=True)
    return p99


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--practices", type=int, default=10_000)
    ap.add_argument("--invoices", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--events", type=int, default=200)
    add_runs_argument(ap)
    args = ap.parse_args()
    targets = [
        Target("worst_page_p95_ms", "P7 slowest page p95 server time", below=100, unit="ms"),
        Target("event_p99_ms", "P7 event → open page p99", below=1000, unit="ms"),
    ]
    runs = Runs("P7 dashboard", targets, args.runs)
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        root = Path(tmp)
        pg = PostgresServer(root / "pg", durable=False)
        ns = NatsServer(root / "nats")
        pg.start()
        ns.start()
        private, public = generate_keypair()
        common = {"PRISME_ENV": "test", "PRISME_NATS_URL": ns.url, "PRISME_JWT_PUBLIC_KEY": public,
                  "PRISME_LOG_LEVEL": "WARNING"}  # fmt: skip
        contracts = ServiceProcess("prisme_contracts", {
            **common, "PRISME_DATA_DIR": str(root / "contracts"),
            "PRISME_CONTRACTS_DATABASE_URL": pg.create_database("contracts"),
        }, log_file=root / "contracts.log")  # fmt: skip
        billing_dsn = pg.create_database("billing")
        billing = ServiceProcess("prisme_billing", {
            **common, "PRISME_DATA_DIR": str(root / "billing"),
            "PRISME_BILLING_DATABASE_URL": billing_dsn,
            "PRISME_BILLING_STRIPE_ENABLED": "false",  # no Stripe here: no push jobs retrying
        }, log_file=root / "billing.log")  # fmt: skip
        dashboard_dsn = pg.create_database("dashboard")
        dashboard = ServiceProcess("prisme_dashboard", {
            **common, "PRISME_DATA_DIR": str(root / "dashboard"),
            "PRISME_DASHBOARD_DATABASE_URL": dashboard_dsn,
            "PRISME_DASHBOARD_SIGNING_KEY": private,
            "PRISME_DASHBOARD_CONTRACTS_URL": contracts.url,
            "PRISME_DASHBOARD_BILLING_URL": billing.url,
        }, log_file=root / "dashboard.log")  # fmt: skip
        procs = [contracts, billing, dashboard]
        try:
            for proc in procs:
                proc.start()
            for proc in procs:
                asyncio.run(proc.wait_ready(90))
            auth = "Bearer " + mint_token(private, sub="op-bench", scopes=["admin"])
            started = time.perf_counter()
            practices = asyncio.run(seed_practices(contracts.url, auth, args.practices))
            print(f"seeded {len(practices):,} practices in {time.perf_counter() - started:.0f} s")
            started = time.perf_counter()
            asyncio.run(seed_invoices(ns.url, billing_dsn, practices, args.invoices))
            print(f"seeded {args.invoices:,} invoices in {time.perf_counter() - started:.0f} s")
            jar = asyncio.run(sign_in(dashboard.url, dashboard_dsn))
            invoices: list[dict[str, Any]] = httpx.get(
                billing.url + "/v1/invoices", params={"client_id": practices[0]},
                headers={"Authorization": auth}, timeout=60,
            ).json()["items"]  # fmt: skip
            paths = {
                "healthz (baseline)": "/healthz",
                "Événements": "/evenements",
                "Événements, lettres mortes": "/evenements/lettres-mortes",
                "Événements, tâches": "/evenements/taches",
                "Facturation (toutes)": "/facturation",
                "Facturation (un cabinet)": f"/facturation?client_id={practices[0]}",
                "Facture": f"/facturation/factures/{invoices[0]['id']}",
                "Journal d'audit": "/journal",
                "Administration": "/admin",
                "Cabinets": "/cabinets",
                "Cabinet": f"/cabinets/{practices[0]}",
                "Contrats": "/contrats",
            }
            for _ in runs:
                pages = asyncio.run(page_times(dashboard.url, jar, paths, args.requests))
                worst = max(v for k, v in pages.items() if k != "healthz (baseline)")
                slowest = max((v, k) for k, v in pages.items() if k != "healthz (baseline)")[1]
                p99 = asyncio.run(event_latency(dashboard.url, jar, contracts.url, auth,
                                                practices[: args.events], args.events))  # fmt: skip
                runs.record({"worst_page_p95_ms": worst, "event_p99_ms": p99,
                             "healthz_p95_ms": pages["healthz (baseline)"]})  # fmt: skip
                print(f"  slowest page: {slowest}")
                practices = practices[args.events :] + practices[: args.events]
        finally:
            for proc in procs:
                if proc.proc is not None:
                    proc.terminate()
            ns.stop()
            pg.stop(mode="immediate")
    return runs.finish()


if __name__ == "__main__":
    raise SystemExit(main())
