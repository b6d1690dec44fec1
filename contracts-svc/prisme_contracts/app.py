"""The contracts-svc ``ServiceSpec``: routes, migrations, the year-end scheduler."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prisme_chassis.app import Resources, ServiceSpec, create_app

from . import api, errors, scheduler, sealed_documents
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
        migrations=Path(__file__).parent / "migrations",
        context=context,
        routers=[api.router],
        workers=[scheduler.run, scheduler.run_cessations],
        errors=errors.CATALOGUE,
    )


def build_app(settings: ContractsSettings | None = None) -> FastAPI:
    return create_app(_spec(), settings or ContractsSettings())
