"""The contracts-svc ``ServiceSpec``: routes, migrations, the year-end scheduler."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prisme_chassis.app import Resources, ServiceSpec, create_app

from . import api, domain, errors, scheduler, sealed_documents
from .context import ContractsContext
from .price_check import PriceCheck
from .settings import ContractsSettings


def _spec() -> ServiceSpec[ContractsSettings, ContractsContext]:
    async def context(resources: Resources[ContractsSettings]) -> ContractsContext:
        s = resources.settings
        check = None
        if s.billing_url is not None and s.billing_token is not None:
            check = PriceCheck(s.billing_url, s.billing_token.get_secret_value())
        keyring = sealed_documents.load_keyring(s)
        await sealed_documents.seal_clear_documents(resources.pool, keyring)
        return ContractsContext(documents=keyring, price_check=check)

    return ServiceSpec(
        name="contracts-svc",
        version="3.0.0",
        migrations=Path(__file__).parent / "migrations",
        context=context,
        routers=api.routers,
        workers=[scheduler.run, scheduler.run_cessations],
        errors=errors.CATALOGUE,
        # C6: the proof of cessation (≤ 10 MB) and the form's small fields
        body_limits=lambda _settings: {
            "POST /v1/contracts/{contract_id}/terminations": domain.MAX_DOCUMENT_BYTES + 256 * 1024
        },
        area="contracts",  # GET /v1/audit asks contracts:read
    )


def build_app(settings: ContractsSettings | None = None) -> FastAPI:
    return create_app(_spec(), settings or ContractsSettings())
