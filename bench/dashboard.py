"""P7 (DESIGN.md §8): the dashboard's server time per page, and event → open page latency.

1. Embedded PostgreSQL and nats-server; contracts-svc, billing-svc and the dashboard as their
   own processes (``python -m …``), the dashboard signing the operator's tokens.
2. Seed: ``--practices`` practices through ``POST /v1/clients``; ``--through-bus`` invoices
   through the bus (``contract.activated`` published on JetStream, invoiced by billing-svc's
   consumer), waited for until billing lists them; then copies of those in earlier years'
   series (SQL, lines included) up to ``--invoices``: the bus invoices about 20 a second.
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

Usage: python bench/dashboard.py [--practices 10000] [--invoices 100000] [--through-bus 2000]
       [--requests 50] [--events 200] [--runs 5]
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


async def copy_invoices_into_past_years(billing_dsn: str, total: int) -> int:
    """Bring billing's invoices up to ``total`` by copying those the bus made into earlier
    years' series (the same practice invoiced year after year, paid): same columns, lines
    copied, numbers and dates moved back by whole years, so every list, filter and total
    reads real rows. Invoicing through the bus runs at about 20 a second (each invoice's
    e-mail renders its Factur-X, B11); this seeds the rest in seconds. Returns the count."""
    conn = await asyncpg.connect(billing_dsn)
    try:
        made = await conn.fetchval("SELECT count(*) FROM documents WHERE kind = 'invoice'")
        if made >= total:
            return int(made)
        years = -(-(total - made) // made)  # ceil: copies per invoice
        columns = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'documents' ORDER BY ordinal_position"
            )
        ]
        moved = {
            "id": "c.dst",
            "contract_id": "gen_random_uuid()",
            "status": "'paid'",
            "amount_paid": "d.total_ttc",
            "number": "replace(d.number, d.series_year::text, (d.series_year - c.g)::text)",
            "series_year": "d.series_year - c.g",
            "issue_date": "(d.issue_date - make_interval(years => c.g))::date",
            "due_date": "(d.due_date - make_interval(years => c.g))::date",
            "finalised_at": "d.finalised_at - make_interval(years => c.g)",
            "created_at": "d.created_at - make_interval(years => c.g)",
            "stripe_invoice_id": "NULL",
            "overdue_since": "NULL",
        }
        chosen = ", ".join(moved.get(col, f"d.{col}") for col in columns)
        line_columns = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'document_lines' ORDER BY ordinal_position"
            )
        ]
        line_moved = {
            "document_id": "c.dst",
            "period_start": "(l.period_start - make_interval(years => c.g))::date",
            "period_end": "(l.period_end - make_interval(years => c.g))::date",
        }
        line_chosen = ", ".join(line_moved.get(col, f"l.{col}") for col in line_columns)
        async with conn.transaction():
            await conn.execute(
                "CREATE TEMP TABLE copies ON COMMIT DROP AS"
                " SELECT d.id AS src, gen_random_uuid() AS dst, g"
                " FROM documents d CROSS JOIN generate_series(1, $1) g"
                " WHERE d.kind = 'invoice' AND d.status <> 'draft'"
                " ORDER BY g, d.sequence LIMIT $2",
                years,
                total - made,
            )
            await conn.execute(
                f"INSERT INTO documents ({', '.join(columns)})"
                f" SELECT {chosen} FROM copies c JOIN documents d ON d.id = c.src"
            )
            await conn.execute(
                f"INSERT INTO document_lines ({', '.join(line_columns)})"
                f" SELECT {line_chosen} FROM copies c JOIN document_lines l"
                " ON l.document_id = c.src"
            )
        for table in ("documents", "document_lines"):  # as autovacuum would after a bulk load
            await conn.execute(f"VACUUM ANALYZE {table}")
        return int(await conn.fetchval("SELECT count(*) FROM documents WHERE kind = 'invoice'"))
    finally:
        await conn.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--practices", type=int, default=10_000)
    ap.add_argument("--invoices", type=int, default=100_000)
    ap.add_argument("--through-bus", type=int, default=2_000,
                    help="invoices made by billing from contract.activated events; the rest "
                         "of --invoices are copies of them in earlier years (SQL)")  # fmt: skip
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
            by_bus = min(args.invoices, args.through_bus)
            asyncio.run(seed_invoices(ns.url, billing_dsn, practices, by_bus))
            print(f"seeded {by_bus:,} invoices through the bus in"
                  f" {time.perf_counter() - started:.0f} s")  # fmt: skip
            started = time.perf_counter()
            count = asyncio.run(copy_invoices_into_past_years(billing_dsn, args.invoices))
            print(f"{count:,} invoices after copies into earlier years"
                  f" ({time.perf_counter() - started:.1f} s)")  # fmt: skip
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
