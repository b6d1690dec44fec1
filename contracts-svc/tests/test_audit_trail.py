"""O3: every mutating route of contracts-svc writes its audit row on the chassis' trail, and
the trail kept before the move (the service's own audit_log) is still there after it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import prisme_contracts
from prisme_chassis.db import CHASSIS_MIGRATIONS, connect, migrate
from prisme_testing.audit import Call, Example, assert_mutations_audited

if TYPE_CHECKING:
    from conftest import ServiceFactory, Svc

MIGRATIONS = Path(prisme_contracts.__file__).parent / "migrations"
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"

NOT_AUDITED = {
    "POST /v1/clients/{client_id}/eligibility/check": (
        "recomputes C4; it writes (and audits, contract.eligibility_changed) only a verdict "
        "that changed, and every inventory change already rechecks: a recheck here has "
        "nothing to change"
    ),
}


def _examples(svc: Svc) -> dict[str, Example]:
    n = [0]

    def code() -> str:
        n[0] += 1
        return f"walk_{n[0]}"

    async def offer(_: Any) -> Call:
        c = code()
        r = await svc.alice.post(
            "/v1/offers", json={"code": c, "label": "Offre", "includes": ["microsoft_365"]}
        )
        assert r.status_code == 201, r.text
        return Call(f"/v1/offers/{c}", json={"label": "Offre corrigée"})

    async def level(_: Any) -> Call:
        c = code()
        assert (
            await svc.alice.post("/v1/levels", json={"code": c, "label": "Niveau"})
        ).status_code == 201
        return Call(f"/v1/levels/{c}", json={"label": "Niveau corrigé"})

    async def partner(then: str) -> Call:
        name = f"Partenaire {code()}"
        assert (await svc.alice.post("/v1/partners", json={"name": name})).status_code == 201
        if then == "services":
            return Call(f"/v1/partners/{name}/services", json={"services": ["imagerie"]})
        return Call(f"/v1/partners/{name}")

    async def client(_: Any) -> Call:
        c = await svc.client()
        return Call(f"/v1/clients/{c['id']}", json={"name": "Cabinet renommé"})

    async def user(then: str) -> Call:
        c = await svc.client()
        if then == "add":
            body = {"first_name": "A", "last_name": "B", "email": "a@b.re", "role": "assistant"}
            return Call(f"/v1/clients/{c['id']}/users", json=body)
        u = await svc.user(c["id"])
        url = f"/v1/clients/{c['id']}/users/{u['id']}"
        if then == "change":
            body = {"first_name": "Marie", "last_name": "Payet", "email": u["email"]}
            return Call(url, json={**body, "role": "practitioner"})
        return Call(url)

    async def network(_: Any) -> Call:
        c = await svc.client()
        body = {"lan_count": 1, "download_mbps": 100, "upload_mbps": 50}
        return Call(f"/v1/clients/{c['id']}/network", json=body)

    async def asset(then: str) -> Call:
        c = await svc.client()
        body = {
            "name": "PC9",
            "function": "accueil",
            "kind": "workstation",
            "form": "physical",
            "os": "Windows 11 Pro",
            "supplied_by": "provider",
        }
        if then == "add":
            return Call(f"/v1/clients/{c['id']}/assets", json=body)
        a = await svc.asset(c["id"])
        url = f"/v1/clients/{c['id']}/assets/{a['asset']['id'] if 'asset' in a else a['id']}"
        return Call(url, json={**body, "name": "PC renommé"}) if then == "change" else Call(url)

    async def broken_network_client() -> str:
        c = await svc.eligible_client()
        r = await svc.alice.put(
            f"/v1/clients/{c['id']}/network",
            json={"lan_count": 2, "download_mbps": 1000, "upload_mbps": 600},
        )
        assert r.status_code == 200, r.text
        return str(c["id"])

    async def override(_: Any) -> Call:
        cid = await broken_network_client()
        body = {"criterion": "single_network", "reason": "deux VLAN d'un même réseau"}
        return Call(f"/v1/clients/{cid}/eligibility/override", json=body)

    async def revoke_override(_: Any) -> Call:
        cid = await broken_network_client()
        r = await svc.alice.post(
            f"/v1/clients/{cid}/eligibility/override",
            json={"criterion": "single_network", "reason": "deux VLAN d'un même réseau"},
        )
        assert r.status_code == 201, r.text
        return Call(
            f"/v1/clients/{cid}/eligibility/override", params={"criterion": "single_network"}
        )

    async def intervention(_: Any) -> Call:
        c, _k = await svc.active_contract()
        body = {
            "technician": "Judith Hoarau",
            "started_at": svc.clock.now().isoformat(),
            "duration_minutes": 30,
            "mode": "remote",
            "summary": "Mise à jour du poste d'accueil",
            "billable": [],
        }
        return Call(f"/v1/clients/{c['id']}/interventions", json=body)

    async def new_contract(_: Any) -> Call:
        c = await svc.eligible_client()
        start = date(svc.clock.today().year, 3, 15).isoformat()
        return Call(
            "/v1/contracts", json={"client_id": c["id"], "offer": "prisme", "start_date": start}
        )

    async def draft(then: str) -> Call:
        c = await svc.eligible_client()
        k = await svc.contract(c["id"])
        return Call(f"/v1/contracts/{k['id']}/{then}")

    async def active(then: str) -> Call:
        _c, k = await svc.active_contract()
        if then == "renew":
            return Call(f"/v1/contracts/{k['id']}/renew")
        return Call(
            f"/v1/contracts/{k['id']}/terminations",
            data={"reason": "cessation", "effective_date": svc.clock.today().isoformat()},
            files={"document": ("radiation.pdf", PDF, "application/pdf")},
        )

    async def termination(then: str) -> Call:
        _c, k = await svc.active_contract()
        r = await svc.alice.post(
            f"/v1/contracts/{k['id']}/terminations",
            data={"reason": "cessation", "effective_date": svc.clock.today().isoformat()},
            files={"document": ("radiation.pdf", PDF, "application/pdf")},
        )
        assert r.status_code == 201, r.text
        url = f"/v1/terminations/{r.json()['id']}/{then}"
        if then == "withdraw":
            return Call(url)
        # four eyes: another operator decides
        return Call(url, json={"note": "vu"}, headers=svc.bob_headers, sub="op-bob")

    def each(make: Any, arg: str) -> Example:
        async def example(client: Any) -> Call:
            call: Call = await make(arg)
            return call

        return example

    return {
        "POST /v1/offers": Call(
            "/v1/offers",
            json={"code": "walk_new", "label": "Nouvelle", "includes": ["microsoft_365"]},
        ),
        "PATCH /v1/offers/{code}": offer,
        "POST /v1/levels": Call("/v1/levels", json={"code": "walk_level", "label": "Renforcé"}),
        "PATCH /v1/levels/{code}": level,
        "POST /v1/partners": Call("/v1/partners", json={"name": "Medisoft"}),
        "PUT /v1/partners/{name}/services": each(partner, "services"),
        "DELETE /v1/partners/{name}": each(partner, "remove"),
        "POST /v1/clients": Call(
            "/v1/clients",
            json={
                "name": "Cabinet du walker",
                "siren": "732829320",
                "manager": {
                    "name": "Dr Grondin",
                    "email": "g@cabinet.re",
                    "phone": "0262 00 00 00",
                },
                "address": {
                    "line1": "2 rue de Paris",
                    "postal_code": "97490",
                    "city": "Sainte-Clotilde",
                },
            },
        ),
        "PATCH /v1/clients/{client_id}": client,
        "POST /v1/clients/{client_id}/users": each(user, "add"),
        "PUT /v1/clients/{client_id}/users/{user_id}": each(user, "change"),
        "DELETE /v1/clients/{client_id}/users/{user_id}": each(user, "remove"),
        "PUT /v1/clients/{client_id}/network": network,
        "POST /v1/clients/{client_id}/assets": each(asset, "add"),
        "PUT /v1/clients/{client_id}/assets/{asset_id}": each(asset, "change"),
        "DELETE /v1/clients/{client_id}/assets/{asset_id}": each(asset, "remove"),
        "POST /v1/clients/{client_id}/eligibility/override": override,
        "DELETE /v1/clients/{client_id}/eligibility/override": revoke_override,
        "POST /v1/clients/{client_id}/interventions": intervention,
        "POST /v1/contracts": new_contract,
        "POST /v1/contracts/{contract_id}/activate": each(draft, "activate"),
        "POST /v1/contracts/{contract_id}/cancel": each(draft, "cancel"),
        "POST /v1/contracts/{contract_id}/renew": each(active, "renew"),
        "POST /v1/contracts/{contract_id}/terminations": each(active, "terminate"),
        "POST /v1/terminations/{termination_id}/approve": each(termination, "approve"),
        "POST /v1/terminations/{termination_id}/reject": each(termination, "reject"),
        "POST /v1/terminations/{termination_id}/withdraw": each(termination, "withdraw"),
        "POST /v1/year-end": Call("/v1/year-end", json={"year": svc.clock.today().year - 1}),
    }


async def test_every_mutating_route_writes_an_audit_row(svc: Svc) -> None:
    report = await assert_mutations_audited(svc.alice, _examples(svc), NOT_AUDITED, sub="op-alice")
    assert len(report.audited) >= 28
    approved = await svc.audit(action="termination.approved")
    assert approved
    assert approved[-1]["actor"] == "op-bob"


async def test_the_old_trail_is_moved_onto_the_chassis_trail(
    new_database: Any, run_contracts: ServiceFactory, tmp_path: Path
) -> None:
    """A database from before the move: its audit_log rows reappear in GET /v1/audit."""
    dsn = await new_database()
    before_move = tmp_path / "migrations"
    before_move.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name < "007":
            (before_move / path.name).write_text(path.read_text())
    client_id, contract_id = uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 2, 3, 10, 0, tzinfo=UTC)
    conn = await connect(dsn)
    try:
        await migrate(conn, "chassis", CHASSIS_MIGRATIONS)
        await migrate(conn, "contracts-svc", before_move)
        await conn.executemany(
            "INSERT INTO audit_log (at, actor, source, action, entity_type, entity_id, client_id,"
            " before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [
                (
                    at,
                    "op-carole",
                    "10.1.2.3",
                    "contract.created",
                    "contract",
                    contract_id,
                    client_id,
                    None,
                    {"status": "draft"},
                ),
                (
                    at + timedelta(days=1),
                    "system:year-end-scheduler",
                    "scheduler",
                    "contract.ended",
                    "contract",
                    contract_id,
                    client_id,
                    {"status": "active"},
                    {"status": "ended"},
                ),
            ],
        )
    finally:
        await conn.close()
    async with run_contracts(dsn=dsn) as svc:
        moved = await svc.audit(target=str(contract_id))
        assert [(a["action"], a["actor"], a["address"]) for a in moved] == [
            ("contract.created", "op-carole", "10.1.2.3"),
            ("contract.ended", "system:year-end-scheduler", "scheduler"),
        ]
        assert moved[0]["at"].startswith("2026-02-03T10:00:00")
        assert moved[0]["client_id"] == str(client_id)
        assert moved[1]["before"] == {"status": "active"}
        assert moved[1]["actor_name"] == "système"
        conn = await connect(dsn)
        try:
            assert await conn.fetchval("SELECT to_regclass('audit_log')") is None
        finally:
            await conn.close()
