"""HTTP client of the agent-facing routes of backup-svc."""

from __future__ import annotations

import uuid
from types import TracebackType

import httpx

from .protocol import (
    AgentPlan,
    CheckReport,
    EnrolRequest,
    EnrolResponse,
    RunAccepted,
    RunReport,
)


class AgentRefused(Exception):
    """backup-svc refused the agent's credentials (revoked at the end of the contract, K3)."""


class ControlPlane:
    def __init__(
        self,
        base_url: str,
        credential: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=30.0, transport=transport
        )

    async def __aenter__(self) -> ControlPlane:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._http.aclose()

    def _raise(self, resp: httpx.Response) -> None:
        if resp.status_code in (401, 403):
            raise AgentRefused(f"{resp.status_code}: {resp.text[:300]}")
        resp.raise_for_status()

    async def enrol(self, token: str, hostname: str) -> EnrolResponse:
        body = EnrolRequest(token=token, hostname=hostname)
        resp = await self._http.post("/v1/agent/enrol", json=body.model_dump(mode="json"))
        self._raise(resp)
        return EnrolResponse.model_validate(resp.json())

    async def plan(self) -> AgentPlan:
        resp = await self._http.get("/v1/agent/plan")
        self._raise(resp)
        return AgentPlan.model_validate(resp.json())

    async def report_run(self, report: RunReport) -> uuid.UUID:
        resp = await self._http.post("/v1/agent/runs", json=report.model_dump(mode="json"))
        self._raise(resp)
        return RunAccepted.model_validate(resp.json()).run_id

    async def report_check(self, report: CheckReport) -> None:
        resp = await self._http.post("/v1/agent/checks", json=report.model_dump(mode="json"))
        self._raise(resp)
