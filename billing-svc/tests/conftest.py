"""Fixtures of billing-svc's tests: settings on a fresh database, a migrated pool, and small
factories of contract events (the bus is fed straight from the catalogue, as conventions say)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
import stripe
from prisme_billing.app import spec
from prisme_billing.settings import BillingSettings
from prisme_chassis.db import create_pool, migrate_service
from prisme_events import (
    Address,
    ClientSnapshot,
    ContractActivated,
    ContractAmended,
    ContractEnded,
    Manager,
)
from prisme_stripe_sandbox import SandboxServer
from pydantic import SecretStr


@pytest.fixture
async def billing_settings(
    base_settings: dict[str, Any], new_database: Callable[[], Awaitable[str]]
) -> BillingSettings:
    return BillingSettings(
        **base_settings,
        database_url=await new_database(),
        stripe_enabled=False,
        worker_poll_s=0.05,
    )


@pytest.fixture
async def pool(billing_settings: BillingSettings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the service's migrated database, without the HTTP app or the bus."""
    p = await create_pool(billing_settings.database_url, max_size=20)
    await migrate_service(p, spec.name, spec.migrations)
    yield p
    await p.close()


def client_snapshot(client_id: uuid.UUID | None = None) -> ClientSnapshot:
    cid = client_id or uuid.uuid4()
    return ClientSnapshot(
        client_id=cid,
        name="Cabinet médical des Lilas",
        siren="552100554",
        address=Address(line1="3 rue des Lilas", postal_code="97410", city="Saint-Pierre"),
        manager=Manager(name="Dr Hoarau", email="gerant@lilas.example", phone="+262262000000"),
    )


@pytest.fixture
def activated() -> Callable[..., ContractActivated]:
    def make(
        postes: int = 8,
        start: date = date(2026, 3, 15),
        offer: str = "prisme",
        version: int = 2,
        client_id: uuid.UUID | None = None,
        contract_id: uuid.UUID | None = None,
    ) -> ContractActivated:
        client = client_snapshot(client_id)
        return ContractActivated(
            contract_id=contract_id or uuid.uuid4(),
            client_id=client.client_id,
            version=version,
            offer=offer,
            includes=["microsoft_365"] if offer == "prisme" else [],
            year=start.year,
            client=client,
            start_date=start,
            end_date=date(start.year, 12, 31),
            ends_at=datetime(start.year, 12, 31, 19, 59, 59, tzinfo=UTC),
            postes=postes,
            peripherals=2,
            users=[],
        )

    return make


@pytest.fixture
def amended() -> Callable[..., ContractAmended]:
    def make(
        act: ContractActivated, postes_before: int, postes: int, effective: date, version: int
    ) -> ContractAmended:
        return ContractAmended(
            contract_id=act.contract_id,
            client_id=act.client_id,
            version=version,
            offer=act.offer,
            includes=act.includes,
            year=act.year,
            amendment_id=uuid.uuid4(),
            intervention_id=uuid.uuid4(),
            effective_date=effective,
            changes=[],
            postes_before=postes_before,
            postes=postes,
            peripherals=act.peripherals,
            client=act.client,
        )

    return make


@pytest.fixture
def ended() -> Callable[..., ContractEnded]:
    def make(
        act: ContractActivated, effective: date, version: int, reason: str = "cessation"
    ) -> ContractEnded:
        return ContractEnded(
            contract_id=act.contract_id,
            client_id=act.client_id,
            version=version,
            offer=act.offer,
            includes=act.includes,
            year=act.year,
            reason=reason,  # type: ignore[arg-type]
            effective_date=effective,
            ended_at=datetime.now(UTC),
            postes=act.postes,
        )

    return make


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    """Poll ``check`` until it returns a truthy value (effects of the bus are asynchronous)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(0.05)


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[Any]]:
    return eventually


@pytest.fixture
def stripe_sandbox() -> Iterator[SandboxServer]:
    """The team's Stripe stand-in (services/stripe-sandbox), on a free port in a thread."""
    with SandboxServer(retry_delays=(0.2, 0.5, 1.0)) as sb:
        yield sb


@pytest.fixture
async def stripe_settings(
    billing_settings: BillingSettings, stripe_sandbox: SandboxServer
) -> BillingSettings:
    return billing_settings.model_copy(
        update={
            "stripe_enabled": True,
            "stripe_api_base": stripe_sandbox.url,
            "stripe_webhook_secret": SecretStr("whsec_" + secrets.token_hex(16)),
            "reconcile_every_s": 3600.0,
        }
    )


@pytest.fixture
def stripe_client(stripe_sandbox: SandboxServer) -> stripe.StripeClient:
    """The test's own SDK client: it plays the customer paying on the hosted page."""
    return stripe.StripeClient(
        "sk_test_customer",
        base_addresses={"api": stripe_sandbox.url},
        http_client=stripe.HTTPXClient(),
    )
