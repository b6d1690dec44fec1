"""Year-end (C2): idempotent, crash-safe, one contract.ended per contract, with renewal facts,
run by the API and by the scheduler at 00:00 Indian/Reunion on 1 January."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
from prisme_chassis.audit import Actor
from prisme_chassis.bus import enqueue_many
from prisme_chassis.db import create_pool
from prisme_contracts import domain
from prisme_contracts import repository as repo
from prisme_contracts.year_end import _ended_event
from prisme_events import ContractActivated, ContractEnded
from prisme_testing.plugin import collect_events

if TYPE_CHECKING:
    from conftest import ServiceFactory, Svc


async def _wait_for(predicate: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def _ended(svc: Svc, count: int, timeout: float = 10.0) -> list[ContractEnded]:
    events = await collect_events(svc.nats_url, "contract.ended", count, timeout)
    assert all(isinstance(e, ContractEnded) for e in events)
    return events  # type: ignore[return-value]


async def test_year_end_ends_every_contract_once_and_names_the_renewal(svc: Svc) -> None:
    year = svc.clock.today().year
    c1, k1 = await svc.active_contract()
    c2, k2 = await svc.active_contract()
    _, k3 = await svc.active_contract()
    # k1 renewed (draft) with the other offer, k2 renewed and activated ahead, k3 not renewed
    r1 = (
        await svc.alice.post(f"/v1/contracts/{k1['id']}/renew", json={"offer": "sav_sauvegarde"})
    ).json()
    r2 = (await svc.alice.post(f"/v1/contracts/{k2['id']}/renew")).json()
    assert (await svc.alice.post(f"/v1/contracts/{r2['id']}/activate")).status_code == 200
    draft = await svc.contract(
        (await svc.eligible_client())["id"]
    )  # a draft of the year is left alone

    # the year is not over yet
    r = await svc.alice.post("/v1/year-end", json={"year": year})
    assert r.status_code == 409
    assert (await svc.alice.get(f"/v1/year-end/{year}")).json()["status"] == "not_started"

    svc.clock.travel_to(datetime(year + 1, 1, 1, 0, 0, 1, tzinfo=domain.REUNION))
    r = await svc.alice.post("/v1/year-end", json={"year": year})
    assert r.status_code == 200, r.text
    assert r.json()["ended"] == 3
    assert r.json()["remaining"] == 0
    assert r.json()["status"] == "done"
    assert r.json()["ended_total"] == 3  # the contract.ended each consumer has to see

    events = await _ended(svc, 3)
    by_contract = {str(e.contract_id): e for e in events}
    assert set(by_contract) == {k1["id"], k2["id"], k3["id"]}
    for e in events:
        assert e.reason == "year_end"
        assert e.effective_date == date(year, 12, 31)
        assert e.ended_at == domain.ends_at(year)
        assert e.version == 3  # created 1, activated 2, ended 3
        assert e.year == year
        assert e.postes == 3
        assert "microsoft_365" in e.includes
    assert str(by_contract[k1["id"]].renewal_contract_id) == r1["id"]
    assert "microsoft_365" not in by_contract[k1["id"]].renewal_includes
    assert "video_recordings" in by_contract[k1["id"]].renewal_includes
    assert str(by_contract[k2["id"]].renewal_contract_id) == r2["id"]
    assert "microsoft_365" in by_contract[k2["id"]].renewal_includes
    assert by_contract[k3["id"]].renewal_contract_id is None
    assert by_contract[k3["id"]].renewal_includes == []

    for k in (k1, k2, k3):
        got = (await svc.alice.get(f"/v1/contracts/{k['id']}")).json()
        assert (got["status"], got["end_reason"], got["ended_on"]) == (
            "ended",
            "year_end",
            f"{year}-12-31",
        )
    assert (await svc.alice.get(f"/v1/contracts/{draft['id']}")).json()["status"] == "cancelled"
    assert (await svc.alice.get(f"/v1/contracts/{r2['id']}")).json()["status"] == "active"

    # a second run changes nothing and publishes nothing
    r = await svc.alice.post("/v1/year-end", json={"year": year})
    assert r.status_code == 200
    assert r.json()["ended"] == 3
    assert len(await collect_events(svc.nats_url, "contract.ended", 4, timeout=1.0)) == 3
    # the closed year takes no new activation; the renewal activates normally
    assert (await svc.alice.post(f"/v1/contracts/{draft['id']}/activate")).status_code == 409
    assert (await svc.alice.post(f"/v1/contracts/{r1['id']}/activate")).status_code == 200
    activated = await collect_events(svc.nats_url, "contract.activated", 5)
    assert len(activated) == 5
    renewal = next(e for e in activated if str(e.contract_id) == r1["id"])
    assert isinstance(renewal, ContractActivated)
    assert str(renewal.renewal_of) == k1["id"]
    assert renewal.start_date == date(year + 1, 1, 1)
    # the audit trail says who closed the year: each run is recorded with who asked for it
    # (the scheduler may have started the same run a moment before Alice's call)
    audit = await svc.audit(target=k3["id"])
    assert audit[-1]["action"] == "contract.ended"
    assert audit[-1]["actor"] in {"op-alice", "system:year-end-scheduler"}
    assert audit[-1]["after"]["end_reason"] == "year_end"
    runs = await svc.audit(action="year_end.run", target=str(year))
    assert "op-alice" in {a["actor"] for a in runs}
    assert c1["id"] != c2["id"]
    # renewing an ended contract after the new year began starts the renewal today
    svc.clock.travel_to(datetime(year + 1, 2, 10, 9, 0, tzinfo=domain.REUNION))
    late = (await svc.alice.post(f"/v1/contracts/{k3['id']}/renew")).json()
    assert (late["status"], late["start_date"], late["renewal_of"]) == (
        "draft",
        f"{year + 1}-02-10",
        k3["id"],
    )


async def _seed_active(dsn: str, year: int, n: int) -> list[str]:
    """``n`` active contracts straight in the database (the API path is tested elsewhere)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """
            WITH c AS (
                INSERT INTO clients (id, name, siren, manager_name, manager_email, manager_phone,
                                     line1, postal_code, city)
                SELECT gen_random_uuid(), 'Cabinet ' || i, '732829320', 'Dr X', 'x@x.re',
                       '0262123456', '1 rue', '97400', 'Saint-Denis'
                  FROM generate_series(1, $2) i
                RETURNING id
            )
            INSERT INTO contracts (id, client_id, offer, year, start_date, end_date, status, version,
                                   created_by, activated_at)
            SELECT gen_random_uuid(), c.id, 'prisme', $1, make_date($1, 1, 1), make_date($1, 12, 31),
                   'active', 2, 'seed', now()
              FROM c
            RETURNING id
            """,
            year,
            n,
        )
    finally:
        await conn.close()
    return [str(r["id"]) for r in rows]


async def test_crash_half_way_then_rerun_ends_each_contract_once(svc: Svc) -> None:
    year = svc.clock.today().year - 1
    ids = await _seed_active(svc.dsn, year, 25)
    ended_at = domain.ends_at(year)
    actor = Actor("op-alice", address="test")
    pool = await create_pool(svc.dsn, min_size=1, max_size=1)  # json codecs as in the service
    try:
        conn = await pool.acquire()
        # A first run opened the year and committed one batch of 10 ...
        async with conn.transaction():
            await repo.open_year_end_run(conn, year, "op-alice")
        async with conn.transaction():
            rows = await repo.end_year_batch(conn, year, 10, ended_at, actor, ended_at)
            await enqueue_many(conn, [_ended_event(r, ended_at) for r in rows])
        # ... then died in the middle of the next batch: its transaction never committed.
        tx = conn.transaction()
        await tx.start()
        doomed = await repo.end_year_batch(conn, year, 10, ended_at, actor, ended_at)
        await enqueue_many(conn, [_ended_event(r, ended_at) for r in doomed])
        assert len(doomed) == 10
        await tx.rollback()
        await pool.release(conn)
    finally:
        await pool.close()

    progress = (await svc.alice.get(f"/v1/year-end/{year}")).json()
    assert (progress["status"], progress["ended"], progress["remaining"]) == ("running", 10, 15)

    r = await svc.alice.post("/v1/year-end", json={"year": year})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["ended"], r.json()["remaining"]) == ("done", 25, 0)
    events = await _ended(svc, 26, timeout=1.0)
    assert len(events) == 25
    assert Counter(str(e.contract_id) for e in events) == Counter(ids)
    assert {e.version for e in events} == {3}


async def test_concurrent_runs_end_each_contract_once(svc: Svc) -> None:
    year = svc.clock.today().year - 1
    await _seed_active(svc.dsn, year, 300)
    results = await asyncio.gather(
        *(svc.alice.post("/v1/year-end", json={"year": year}) for _ in range(3))
    )
    assert [r.status_code for r in results] == [200, 200, 200]
    assert {r.json()["ended"] for r in results} == {300}
    events = await _ended(svc, 301, timeout=1.0)
    assert len(events) == 300
    assert len({e.contract_id for e in events}) == 300


async def test_scheduler_closes_the_year_at_reunion_midnight(svc: Svc) -> None:
    year = svc.clock.today().year
    svc.clock.travel_to(datetime(year, 12, 31, 23, 59, 50, tzinfo=domain.REUNION))
    _, contract = await svc.active_contract()
    await asyncio.sleep(0.3)  # the scheduler is watching; nothing happens before midnight
    assert (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()["status"] == "active"
    # one second before midnight in Reunion is 19:59:59 UTC: still the old year
    svc.clock.travel_to(datetime(year, 12, 31, 19, 59, 59, tzinfo=UTC))
    await asyncio.sleep(0.3)
    assert (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()["status"] == "active"
    svc.clock.travel_to(
        datetime(year + 1, 1, 1, 0, 0, 0, tzinfo=domain.REUNION) + timedelta(milliseconds=200)
    )

    async def ended() -> bool:
        return bool(
            (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()["status"] == "ended"
        )

    await _wait_for(ended)
    [event] = await _ended(svc, 1)
    assert event.reason == "year_end"

    async def done() -> bool:
        return bool((await svc.alice.get(f"/v1/year-end/{year}")).json()["status"] == "done")

    await _wait_for(done)  # the run is marked done just after its last batch commits
    progress = (await svc.alice.get(f"/v1/year-end/{year}")).json()
    assert progress["started_by"] == "system:year-end-scheduler"


async def test_scheduler_catches_up_a_missed_turn_of_year_on_start(
    run_contracts: ServiceFactory,
) -> None:
    async with run_contracts() as svc:
        year = svc.clock.today().year
        _, contract = await svc.active_contract()
    # the service was down over the turn of the year
    later = datetime(year + 1, 1, 3, 9, 0, tzinfo=domain.REUNION)
    async with run_contracts(at=later) as svc2:

        async def ended() -> bool:
            return bool(
                (await svc2.alice.get(f"/v1/contracts/{contract['id']}")).json()["status"]
                == "ended"
            )

        await _wait_for(ended)
        [event] = await _ended(svc2, 1)
        assert event.ended_at == domain.ends_at(year)
        assert event.version == 3


async def test_sigkill_during_year_end_then_restart_finishes_it(
    new_database: Any, base_settings: dict[str, Any], make_token: Any, tmp_path: Any
) -> None:
    """A real crash: the service process is SIGKILLed in the middle of a run; on restart the
    scheduler's catch-up finishes the year; every contract ends once, one event each."""
    from prisme_testing.plugin import ServiceProcess

    dsn = await new_database()
    env = {
        "PRISME_ENV": "test",
        "PRISME_NATS_URL": base_settings["nats_url"],
        "PRISME_JWT_PUBLIC_KEY": base_settings["jwt_public_key"],
        "PRISME_DATA_DIR": str(base_settings["data_dir"]),
        "PRISME_CONTRACTS_DATABASE_URL": dsn,
        "PRISME_CONTRACTS_YEAR_END_BATCH_SIZE": "25",
        "PRISME_LOG_LEVEL": "WARNING",
    }
    headers = {"Authorization": f"Bearer {make_token()}"}
    proc = ServiceProcess("prisme_contracts", env, log_file=tmp_path / "contracts.log")
    proc.start()
    try:
        await proc.wait_ready()
        year = datetime.now(UTC).astimezone(domain.REUNION).year - 1
        ids = await _seed_active(dsn, year, 1000)
        async with httpx.AsyncClient(base_url=proc.url, headers=headers, timeout=60) as http:
            run = asyncio.create_task(http.post("/v1/year-end", json={"year": year}))

            async def started() -> bool:
                return bool((await http.get(f"/v1/year-end/{year}")).json()["ended"] > 0)

            await _wait_for(started)
            proc.kill()
            with contextlib.suppress(httpx.HTTPError):
                await run
        progress_at_kill = await _count(dsn, year)
        proc.start()
        await proc.wait_ready()

        async def done() -> bool:
            return await _count(dsn, year) == 0

        await _wait_for(done, timeout=60)
        nats_url = base_settings["nats_url"]
        events = await collect_events(nats_url, "contract.ended", len(ids), 15.0)
        assert len(events) == len(ids), f"{progress_at_kill} were still active at the kill"
        extra = await collect_events(nats_url, "contract.ended", len(ids) + 1, 1.0)
        assert len(extra) == len(ids)
        assert Counter(str(e.contract_id) for e in events) == Counter(ids)
        async with httpx.AsyncClient(base_url=proc.url, headers=headers) as http:
            progress = (await http.get(f"/v1/year-end/{year}")).json()
        assert (progress["status"], progress["ended"], progress["remaining"]) == (
            "done",
            len(ids),
            0,
        )
    finally:
        proc.terminate()


async def _count(dsn: str, year: int) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM contracts WHERE status = 'active' AND year = $1", year
            )
        )
    finally:
        await conn.close()
