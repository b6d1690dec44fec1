"""How a step outcome becomes a chassis job outcome (pure: no database, no Graph)."""

from __future__ import annotations

import uuid

import pytest
from prisme_chassis import jobs
from prisme_licence.graph_steps import Outcome, Work
from prisme_licence.graph_work import GraphWork, Result

ACCOUNT = {"id": uuid.UUID(int=7)}


def _result(o: Outcome) -> Result:
    return Result(Work(1, "provision", "lookup", 0, dict(ACCOUNT)), o)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        # provisioned / revoked: the job is done
        (Outcome("done", status="done", event="provisioned"), jobs.Done()),
        # refused for good: dead at once, the reason first in the error (for licence.failed)
        (
            Outcome("create", status="failed", error="no password", reason="credential_lost"),
            jobs.Fail("credential_lost: no password"),
        ),
        # a stranger holds the login: go on at once from the look-up with a new login
        (
            Outcome("lookup", new_upn="x@y"),
            jobs.Proceed(payload={"account_id": str(ACCOUNT["id"]), "step": "lookup"}),
        ),
        # 429 / no free seat: wait as told, the run is given back (L4)
        (
            Outcome("assign", delay=30.0, error="throttled"),
            jobs.Retry(
                "throttled",
                after=30.0,
                counts=False,
                payload={"account_id": str(ACCOUNT["id"]), "step": "assign"},
            ),
        ),
        # 5xx, network, a refusal that may pass: a failed run, back-off, resumed at its step
        (
            Outcome("unlicense", delay=4.0, attempts=2, error="Graph answered 503"),
            jobs.Retry(
                "Graph answered 503",
                after=4.0,
                payload={"account_id": str(ACCOUNT["id"]), "step": "unlicense"},
            ),
        ),
    ],
)
def test_step_outcomes_map_to_job_outcomes(outcome: Outcome, expected: jobs.Outcome) -> None:
    assert GraphWork._chassis_outcome(_result(outcome)) == expected
