"""contracts-svc (port 8001): practices, inventory, eligibility, contracts, cessations."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Any

from .base import Json, ServiceClient


class ContractsClient(ServiceClient):
    name = "contracts"

    # --- catalogue ------------------------------------------------------------------------
    async def offers(self) -> list[Json]:
        return await self.get_every("/v1/offers")

    async def levels(self) -> list[Json]:
        return await self.get_every("/v1/levels")

    async def partners(self) -> list[Json]:
        return await self.get_every("/v1/partners")

    # --- practices ------------------------------------------------------------------------
    @staticmethod
    def _client_filters(q: str | None, ids: list[uuid.UUID] | None) -> list[tuple[str, str]]:
        return ([("q", q)] if q else []) + [("id", str(i)) for i in ids or []]

    async def clients_page(
        self,
        *,
        q: str | None = None,
        ids: list[uuid.UUID] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Json:
        """A page of practices, oldest first (``items``, ``next_cursor``); ``q`` searches name,
        SIREN, city and users' e-mails."""
        params = [*self._client_filters(q, ids), ("limit", str(limit))]
        return await self.get_page("/v1/clients", params + ([("cursor", cursor)] if cursor else []))

    async def list_clients(
        self, *, q: str | None = None, ids: list[uuid.UUID] | None = None
    ) -> list[Json]:
        """Every practice the filters keep (all pages), oldest first: for ``ids`` or a search."""
        return await self.get_every("/v1/clients", self._client_filters(q, ids))

    async def names_of(self, ids: Iterable[object]) -> dict[str, str]:
        """The practices' names by id (as text), for the lists that show practices' ids."""
        wanted = sorted({str(i) for i in ids if i})
        if not wanted:
            return {}
        found = await self.list_clients(ids=[uuid.UUID(i) for i in wanted])
        return {str(c["id"]): str(c["name"]) for c in found}

    async def get_client(self, client_id: uuid.UUID) -> Json:
        return await self.get_object(f"/v1/clients/{client_id}")

    async def create_client(self, body: Json) -> Json:
        return await self.send("POST", "/v1/clients", body)

    async def correct_client(self, client_id: uuid.UUID, patch: Json) -> Json:
        """C8: PATCH the identity (only the fields given)."""
        return await self.send("PATCH", f"/v1/clients/{client_id}", patch)

    async def users(self, client_id: uuid.UUID) -> list[Json]:
        return await self.get_every(f"/v1/clients/{client_id}/users")

    async def add_user(self, client_id: uuid.UUID, body: Json) -> Json:
        return await self.send("POST", f"/v1/clients/{client_id}/users", body)

    async def remove_user(
        self, client_id: uuid.UUID, user_id: uuid.UUID, *, note: str | None = None
    ) -> Json:
        return await self.send(
            "DELETE", f"/v1/clients/{client_id}/users/{user_id}", params={"note": note}
        )

    async def network(self, client_id: uuid.UUID) -> Json | None:
        """The declared network, or None when none is declared yet."""
        response = await self.request("GET", f"/v1/clients/{client_id}/network", expect=(200, 404))
        if response.status_code == 404:
            body: Any = response.json()
            if isinstance(body, dict) and str(body.get("type", "")).endswith(
                "network-not-declared"
            ):
                return None
            from .base import ServiceProblem

            raise ServiceProblem.from_response(self.name, response)
        answer: Json = response.json()
        return answer

    async def put_network(self, client_id: uuid.UUID, body: Json) -> Json:
        return await self.send("PUT", f"/v1/clients/{client_id}/network", body)

    async def assets(self, client_id: uuid.UUID) -> list[Json]:
        return await self.get_every(f"/v1/clients/{client_id}/assets")

    async def add_asset(self, client_id: uuid.UUID, body: Json) -> Json:
        return await self.send("POST", f"/v1/clients/{client_id}/assets", body)

    async def change_asset(self, client_id: uuid.UUID, asset_id: uuid.UUID, body: Json) -> Json:
        return await self.send("PUT", f"/v1/clients/{client_id}/assets/{asset_id}", body)

    async def remove_asset(
        self, client_id: uuid.UUID, asset_id: uuid.UUID, *, note: str | None = None
    ) -> Json:
        return await self.send(
            "DELETE", f"/v1/clients/{client_id}/assets/{asset_id}", params={"note": note}
        )

    # --- eligibility (C3/C4) ----------------------------------------------------------------
    async def eligibility(self, client_id: uuid.UUID) -> Json:
        return await self.get_object(f"/v1/clients/{client_id}/eligibility")

    async def recheck_eligibility(self, client_id: uuid.UUID) -> Json:
        return await self.send("POST", f"/v1/clients/{client_id}/eligibility/check")

    async def override_eligibility(
        self, client_id: uuid.UUID, *, criterion: str, reason: str, expires_at: str | None = None
    ) -> Json:
        body: Json = {"criterion": criterion, "reason": reason}
        if expires_at:
            body["expires_at"] = expires_at
        return await self.send("POST", f"/v1/clients/{client_id}/eligibility/override", body)

    async def revoke_override(self, client_id: uuid.UUID, criterion: str) -> Json:
        return await self.send(
            "DELETE",
            f"/v1/clients/{client_id}/eligibility/override",
            params={"criterion": criterion},
        )

    # --- interventions (C7) -----------------------------------------------------------------
    async def record_intervention(self, client_id: uuid.UUID, body: Json) -> Json:
        return await self.send("POST", f"/v1/clients/{client_id}/interventions", body)

    # --- contracts (C2) ---------------------------------------------------------------------
    @staticmethod
    def _contract_filters(
        client_id: uuid.UUID | None,
        status: str | None,
        year: int | None,
        non_conforming: bool | None,
        offer: str | None,
    ) -> dict[str, str | int | bool | None]:
        return {
            "client_id": str(client_id) if client_id else None,
            "status": status,
            "year": year,
            "offer": offer,
            "non_conforming": non_conforming,
        }

    async def contracts_page(
        self,
        *,
        client_id: uuid.UUID | None = None,
        status: str | None = None,
        year: int | None = None,
        non_conforming: bool | None = None,
        offer: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Json:
        """A page of contracts, oldest first: ``items`` and ``next_cursor``."""
        filters = self._contract_filters(client_id, status, year, non_conforming, offer)
        return await self.get_page("/v1/contracts", {**filters, "limit": limit, "cursor": cursor})

    async def list_contracts(
        self,
        *,
        client_id: uuid.UUID | None = None,
        status: str | None = None,
        year: int | None = None,
        non_conforming: bool | None = None,
        offer: str | None = None,
    ) -> list[Json]:
        """Every contract the filters keep (all pages), oldest first: e.g. one practice's."""
        filters = self._contract_filters(client_id, status, year, non_conforming, offer)
        return await self.get_every("/v1/contracts", filters)

    async def get_contract(self, contract_id: uuid.UUID) -> Json:
        return await self.get_object(f"/v1/contracts/{contract_id}")

    async def create_contract(
        self, *, client_id: uuid.UUID, offer: str, start_date: date, level: str | None = None
    ) -> Json:
        body: Json = {"client_id": str(client_id), "offer": offer, "start_date": str(start_date)}
        if level:
            body["level"] = level
        return await self.send("POST", "/v1/contracts", body)

    async def activate(self, contract_id: uuid.UUID) -> Json:
        return await self.send("POST", f"/v1/contracts/{contract_id}/activate")

    async def renew(self, contract_id: uuid.UUID, offer: str | None = None) -> Json:
        return await self.send(
            "POST", f"/v1/contracts/{contract_id}/renew", {"offer": offer} if offer else None
        )

    async def cancel(self, contract_id: uuid.UUID) -> Json:
        return await self.send("POST", f"/v1/contracts/{contract_id}/cancel")

    async def amendments(self, contract_id: uuid.UUID) -> list[Json]:
        return await self.get_every(f"/v1/contracts/{contract_id}/amendments")

    # --- cessation (C6) and four eyes (O2) --------------------------------------------------
    async def request_termination(
        self,
        contract_id: uuid.UUID,
        *,
        reason: str,
        effective_date: date,
        document: bytes,
        filename: str,
        media_type: str,
    ) -> Json:
        response = await self.request(
            "POST",
            f"/v1/contracts/{contract_id}/terminations",
            data={"reason": reason, "effective_date": str(effective_date)},
            files={"document": (filename, document, media_type)},
        )
        answer: Json = response.json()
        return answer

    async def terminations(
        self,
        *,
        status: str | None = None,
        contract_id: uuid.UUID | None = None,
        client_id: uuid.UUID | None = None,
    ) -> list[Json]:
        """Every cessation request the filters keep (all pages), oldest first: the pending
        queue, or one practice's or contract's."""
        return await self.get_every(
            "/v1/terminations",
            {
                "status": status,
                "contract_id": str(contract_id) if contract_id else None,
                "client_id": str(client_id) if client_id else None,
            },
        )

    async def get_termination(self, termination_id: uuid.UUID) -> Json:
        return await self.get_object(f"/v1/terminations/{termination_id}")

    async def termination_document(self, termination_id: uuid.UUID) -> tuple[bytes, str]:
        return await self.get_bytes(f"/v1/terminations/{termination_id}/document")

    async def approve_termination(self, termination_id: uuid.UUID, note: str) -> Json:
        return await self.send("POST", f"/v1/terminations/{termination_id}/approve", {"note": note})

    async def reject_termination(self, termination_id: uuid.UUID, note: str) -> Json:
        return await self.send("POST", f"/v1/terminations/{termination_id}/reject", {"note": note})

    async def withdraw_termination(self, termination_id: uuid.UUID) -> Json:
        return await self.send("POST", f"/v1/terminations/{termination_id}/withdraw")

    # --- year-end -------------------------------------------------------------------------
    async def run_year_end(self, year: int, *, timeout: float = 3600.0) -> Json:
        """Ends every active contract of ``year``; answers when done (batches commit as they
        go, so ``year_end(year)`` shows the progress meanwhile)."""
        response = await self.request("POST", "/v1/year-end", json={"year": year}, timeout=timeout)
        answer: Json = response.json()
        return answer

    async def year_end(self, year: int) -> Json:
        return await self.get_object(f"/v1/year-end/{year}")
