"""C6 complete: reject or approve with a note by another operator, withdraw by the requester,
one open request at a time, and a future effective date that ends the contract on that day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prisme_contracts.domain import REUNION
from prisme_events import ContractEnded
from prisme_testing.plugin import collect_events
from prisme_testing.polling import eventually

if TYPE_CHECKING:
    from conftest import Svc

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"


async def _request(svc: Svc, contract_id: str, effective: date) -> dict[str, Any]:
    r = await svc.alice.post(
        f"/v1/contracts/{contract_id}/terminations",
        data={"reason": "cessation", "effective_date": effective.isoformat()},
        files={"document": ("radiation.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _status(svc: Svc, contract_id: str) -> str:
    return str((await svc.alice.get(f"/v1/contracts/{contract_id}")).json()["status"])


async def test_a_rejected_request_keeps_the_contract_and_frees_it(svc: Svc) -> None:
    _, contract = await svc.active_contract()
    first = await _request(svc, contract["id"], svc.clock.today())
    url = f"/v1/terminations/{first['id']}"
    # The requester cannot decide on their own request, not even to reject it.
    r = await svc.alice.post(f"{url}/reject", json={"note": "je me suis trompé"})
    assert r.status_code == 403
    # A decision needs a note (O3).
    assert (await svc.as_bob("POST", f"{url}/reject", json={})).status_code == 422
    assert (await svc.as_bob("POST", f"{url}/reject", json={"note": ""})).status_code == 422
    r = await svc.as_bob("POST", f"{url}/reject", json={"note": "document illisible"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["decided_by"], body["decision_note"]) == (
        "rejected",
        "op-bob",
        "document illisible",
    )
    assert await _status(svc, contract["id"]) == "active"
    # Decided once: no approval after a rejection.
    r = await svc.as_bob("POST", f"{url}/approve", json={"note": "finalement oui"})
    assert r.status_code == 409
    # The contract is free: a new request with a readable document is possible.
    second = await _request(svc, contract["id"], svc.clock.today())
    assert second["status"] == "pending"
    audit = await svc.audit(target=first["id"])
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("termination.requested", "op-alice"),
        ("termination.rejected", "op-bob"),
    ]
    assert audit[-1]["after"]["note"] == "document illisible"


async def test_the_requester_withdraws_a_pending_request(svc: Svc) -> None:
    _, contract = await svc.active_contract()
    first = await _request(svc, contract["id"], svc.clock.today())
    # One open request at a time.
    r = await svc.alice.post(
        f"/v1/contracts/{contract['id']}/terminations",
        data={"reason": "cessation", "effective_date": svc.clock.today().isoformat()},
        files={"document": ("autre.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 409
    url = f"/v1/terminations/{first['id']}"
    assert (await svc.as_bob("POST", f"{url}/withdraw")).status_code == 403  # not theirs
    r = await svc.alice.post(f"{url}/withdraw")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    assert (await svc.alice.post(f"{url}/withdraw")).status_code == 409
    assert await _status(svc, contract["id"]) == "active"
    await _request(svc, contract["id"], svc.clock.today())


async def test_a_future_effective_date_ends_the_contract_on_that_day(svc: Svc) -> None:
    _, contract = await svc.active_contract()
    year = svc.clock.today().year
    closing = date(year, 9, 30)  # announced in June for the end of September
    termination = await _request(svc, contract["id"], closing)
    r = await svc.as_bob(
        "POST",
        f"/v1/terminations/{termination['id']}/approve",
        json={"note": "courrier de fermeture au 30/09"},
    )
    assert r.status_code == 200, r.text
    approved = r.json()
    assert (approved["status"], approved["scheduled"], approved["applied_at"]) == (
        "approved",
        True,
        None,
    )
    assert await _status(svc, contract["id"]) == "active"
    # Scheduled: no second request while it waits.
    r = await svc.alice.post(
        f"/v1/contracts/{contract['id']}/terminations",
        data={"reason": "cessation", "effective_date": closing.isoformat()},
        files={"document": ("bis.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 409

    # The day before, nothing happens; on the day, the scheduler ends the contract.
    svc.clock.travel_to(datetime(year, 9, 29, 23, 0, tzinfo=REUNION))
    await svc.alice.get("/healthz")
    assert await _status(svc, contract["id"]) == "active"
    svc.clock.travel_to(datetime(year, 9, 30, 0, 0, 5, tzinfo=REUNION))

    async def ended() -> dict[str, Any] | None:
        body = (await svc.alice.get(f"/v1/contracts/{contract['id']}")).json()
        return dict(body) if body["status"] == "ended" else None

    body = await eventually(ended, timeout=20, what="the scheduled cessation to end the contract")
    assert (body["end_reason"], body["ended_on"]) == ("cessation", closing.isoformat())
    done = (await svc.alice.get(f"/v1/terminations/{termination['id']}")).json()
    assert done["scheduled"] is False
    assert done["applied_at"] is not None
    # O3: the scheduler's change has its row, by the scheduler
    ended_rows = [
        r for r in await svc.audit(target=contract["id"]) if r["action"] == "contract.ended"
    ]
    assert [r["actor"] for r in ended_rows] == ["system:cessation-scheduler"]
    # the year's ended contracts count it, though no year-end ran (what consumers must see)
    progress = (await svc.alice.get(f"/v1/year-end/{year}")).json()
    assert (progress["status"], progress["ended"], progress["ended_total"]) == (
        "not_started",
        0,
        1,
    )

    events = await collect_events(svc.nats_url, "contract.ended", 10_000, timeout=2.0)
    mine = [
        e for e in events if isinstance(e, ContractEnded) and str(e.contract_id) == contract["id"]
    ]
    assert len(mine) == 1
    assert (mine[0].reason, mine[0].effective_date) == ("cessation", closing)
    assert mine[0].effective_date + timedelta(days=1) == date(year, 10, 1)  # B5 credits from here


async def test_a_cessation_document_is_capped_by_its_route(svc: Svc) -> None:
    from prisme_contracts.domain import MAX_DOCUMENT_BYTES
    from prisme_testing.raw_http import answer_to_headers

    _, contract = await svc.active_contract()
    path = f"/v1/contracts/{contract['id']}/terminations"
    form = {"reason": "cessation", "effective_date": svc.clock.today().isoformat()}
    # just over 10 MB: within the route's cap, refused by C6's own rule
    big = PDF + b"0" * (MAX_DOCUMENT_BYTES + 1 - len(PDF))
    r = await svc.alice.post(path, data=form, files={"document": ("a.pdf", big, "application/pdf")})
    assert r.status_code == 413
    assert r.json()["type"].endswith("/document-too-large")
    # far over: refused by the body limit before the token or the form is looked at
    head = await answer_to_headers(
        str(svc.alice.base_url),
        "POST",
        path,
        {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(11 * 2**20)},
    )
    assert head.startswith(b"HTTP/1.1 413 ")
    assert await _status(svc, contract["id"]) == "active"
