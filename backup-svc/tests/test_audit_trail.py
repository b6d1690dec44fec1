"""O3: every mutating route of backup-svc writes its audit row (plan edits with before and
after, enrolment tokens, agents enrolled, exports requested), never a credential (R5)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from backup_helpers import activated, ended, eventually
from prisme_backup.app import build_app
from prisme_backup.settings import BackupSettings
from prisme_testing.audit import Call, Example, assert_mutations_audited
from prisme_testing.plugin import publish_event, start_service

NOT_AUDITED = {
    "POST /v1/agent/runs": (
        "the agent's own daily report (its credential, no operator): kept as a run row with "
        "the agent's id, read at GET /v1/plans/{plan_id}/runs"
    ),
    "POST /v1/agent/checks": (
        "the agent's own check report (its credential, no operator): kept as a check row with "
        "the agent's id, read at GET /v1/plans/{plan_id}/checks"
    ),
}


async def test_every_mutating_route_writes_an_audit_row(
    backup_settings: BackupSettings, auth_headers: dict[str, str], nats_url: str
) -> None:
    async with start_service(build_app(backup_settings), headers=auth_headers) as api:

        async def plan() -> str:
            client_id = uuid.uuid4()
            await publish_event(nats_url, activated(client_id))

            async def found() -> list[dict[str, Any]]:
                plans: list[dict[str, Any]] = (
                    await api.get("/v1/plans", params={"client_id": str(client_id)})
                ).json()["items"]
                return plans

            (row,) = await eventually(found)
            return str(row["id"])

        async def edit(_: httpx.AsyncClient) -> Call:
            return Call(f"/v1/plans/{await plan()}", json={"check_parts": 3})

        async def token(_: httpx.AsyncClient) -> Call:
            return Call(f"/v1/plans/{await plan()}/enrolment-tokens")

        async def enrol(_: httpx.AsyncClient) -> Call:
            r = await api.post(f"/v1/plans/{await plan()}/enrolment-tokens")
            assert r.status_code == 201, r.text
            body = {"token": r.json()["token"], "hostname": "srv-cabinet"}
            return Call("/v1/agent/enrol", json=body, sub="agent:")

        async def export(_: httpx.AsyncClient) -> Call:
            return Call(f"/v1/plans/{await plan()}/exports")

        examples: dict[str, Example] = {
            "PATCH /v1/plans/{plan_id}": edit,
            "POST /v1/plans/{plan_id}/enrolment-tokens": token,
            "POST /v1/agent/enrol": enrol,
            "POST /v1/plans/{plan_id}/exports": export,
        }
        report = await assert_mutations_audited(api, examples, NOT_AUDITED, sub="op-alice")
        assert sorted(report.audited) == sorted(examples)
        (edited,) = (await api.get("/v1/audit", params={"action": "plan.edited"})).json()["items"]
        assert (edited["before"], edited["after"]) == ({"check_parts": 7}, {"check_parts": 3})
        (agent,) = (await api.get("/v1/audit", params={"action": "agent.enrolled"})).json()["items"]
        assert agent["actor_name"] == "srv-cabinet"


async def test_plans_created_and_ended_by_contract_events_are_audited(
    backup_settings: BackupSettings, auth_headers: dict[str, str], nats_url: str
) -> None:
    """O3 beyond the routes: the plan contract.activated creates and the one contract.ended
    retires each have their row, by the event (``event:<type>``, its id as request id)."""
    async with start_service(build_app(backup_settings), headers=auth_headers) as api:
        client_id = uuid.uuid4()
        act = activated(client_id)
        await publish_event(nats_url, act)

        async def rows(action: str) -> list[dict[str, Any]]:
            page = await api.get(
                "/v1/audit", params={"action": action, "client_id": str(client_id)}
            )
            return list(page.json()["items"])

        (created,) = await eventually(lambda: rows("backup.plan_created"))
        assert (created["actor"], created["request_id"]) == (
            "event:contract.activated",
            str(act.event_id),
        )
        (plan,) = (await api.get("/v1/plans", params={"client_id": str(client_id)})).json()["items"]
        assert created["target_id"] == plan["id"]
        assert "repository_password" not in str(created)

        end = ended(act)
        await publish_event(nats_url, end)
        (retired,) = await eventually(lambda: rows("backup.plan_ended"))
        assert (retired["actor"], retired["request_id"]) == (
            "event:contract.ended",
            str(end.event_id),
        )
        assert (retired["target_id"], retired["before"]) == (plan["id"], {"status": "active"})
        assert retired["detail"]["agents_revoked"] == 0
