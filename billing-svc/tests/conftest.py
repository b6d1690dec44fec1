"""Fixtures of billing-svc's tests: settings on a fresh database, a migrated pool, and small
factories of contract events (the bus is fed straight from the catalogue, as conventions say)."""

from __future__ import annotations

import io
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pikepdf
import pytest
import saxonche
import stripe
from lxml import etree
from prisme_billing.app import spec
from prisme_billing.settings import BillingSettings
from prisme_chassis.db import create_pool, migrate_service
from prisme_events import (
    ContractActivated,
    ContractAmended,
    ContractEnded,
)
from prisme_localinfra import free_port
from prisme_stripe_sandbox import SandboxServer
from prisme_testing import factories
from prisme_testing.factories import client_snapshot as client_snapshot
from prisme_testing.polling import eventually
from prisme_testing.vectors import billing_vectors
from pydantic import SecretStr


@pytest.fixture
async def billing_settings(
    base_settings: dict[str, Any], new_database: Callable[[], Awaitable[str]]
) -> BillingSettings:
    return BillingSettings(
        **base_settings,
        database_url=await new_database(),
        stripe_enabled=False,
        stripe_job_backoff_base_s=0.2,
        stripe_job_backoff_cap_s=2.0,
        # B11: nothing listens there (mail jobs back off); tests that read the e-mails start
        # the mail sandbox and point the service at it (test_mail.py)
        smtp_port=free_port(),
    )


@pytest.fixture
async def pool(billing_settings: BillingSettings) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the service's migrated database, without the HTTP app or the bus."""
    p = await create_pool(billing_settings.database_url, max_size=20)
    await migrate_service(p, spec.name, spec.migrations)
    yield p
    await p.close()


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
        return factories.contract_activated(
            contract_id=contract_id,
            client=client_snapshot(client_id),
            version=version,
            offer=offer,
            includes=["microsoft_365"] if offer == "prisme" else [],
            start=start,
            postes=postes,
        )

    return make


@pytest.fixture
def amended() -> Callable[..., ContractAmended]:
    def make(
        act: ContractActivated, postes_before: int, postes: int, effective: date, version: int
    ) -> ContractAmended:
        return factories.contract_amended(
            act, version=version, effective=effective, postes_before=postes_before, postes=postes
        )

    return make


@pytest.fixture
def ended() -> Callable[..., ContractEnded]:
    def make(
        act: ContractActivated, effective: date, version: int, reason: str = "cessation"
    ) -> ContractEnded:
        return factories.contract_ended(
            act,
            version=version,
            reason=reason,  # type: ignore[arg-type]
            effective=effective,
            ended_at=datetime.now(UTC),
        )

    return make


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


# --- vectors and Factur-X checks (shared by the domain, service and Factur-X tests) -----------


@pytest.fixture(scope="session")
def vectors() -> list[dict[str, str]]:
    return billing_vectors()


SCHEMATRON = Path(__file__).parent / "en16931" / "EN16931-CII-validation.xslt"
SVRL = "{http://purl.oclc.org/dsdl/svrl}"


class Schematron:
    """The official EN 16931 CII schematron (compiled XSLT, vendored) run by Saxon-HE."""

    def __init__(self) -> None:
        self._proc = saxonche.PySaxonProcessor(license=False)
        self._xslt = self._proc.new_xslt30_processor().compile_stylesheet(
            stylesheet_file=str(SCHEMATRON)
        )

    def report(self, xml: bytes) -> tuple[int, list[tuple[str, str, str]]]:
        """(rules fired, [(rule id, flag, text)] of every failed assert)."""
        node = self._proc.parse_xml(xml_text=xml.decode("utf-8"))
        svrl = etree.fromstring(self._xslt.transform_to_string(xdm_node=node).encode("utf-8"))
        failed = [
            (
                str(f.get("id")),
                str(f.get("flag")),
                " ".join(t.text or "" for t in f.iter(f"{SVRL}text")),
            )
            for f in svrl.iter(f"{SVRL}failed-assert")
        ]
        return len(list(svrl.iter(f"{SVRL}fired-rule"))), failed

    def fatal(self, xml: bytes) -> list[tuple[str, str, str]]:
        fired, failed = self.report(xml)
        assert fired > 50, "the schematron did not run its rules"
        return [f for f in failed if f[1] == "fatal"]


@pytest.fixture(scope="session")
def schematron() -> Schematron:
    return Schematron()


def pdfa_structure(pdf: bytes) -> None:
    """PDF/A-3b structure: header, sRGB output intent, every font embedded, XMP pdfaid 3/B,
    the XML attached as factur-x.xml with AFRelationship and listed in the catalogue's /AF."""
    assert pdf.startswith(b"%PDF-1.")
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        (intent,) = doc.Root.OutputIntents
        assert intent.S == pikepdf.Name.GTS_PDFA1
        assert intent.DestOutputProfile.N == 3
        assert len(intent.DestOutputProfile.read_bytes()) > 1000
        fonts = 0
        for page in doc.pages:
            for _name, font in page.Resources.Font.items():
                fonts += 1
                descriptor = font.get("/FontDescriptor")
                assert descriptor is not None, f"{font.get('/BaseFont')} has no descriptor"
                assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), (
                    f"{font.get('/BaseFont')} is not embedded"
                )
        assert fonts >= 2
        meta = doc.open_metadata()
        assert (meta.get("pdfaid:part"), meta.get("pdfaid:conformance")) == ("3", "B")
        xmp = bytes(doc.Root.Metadata.read_bytes())
        assert b"urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp
        assert b"EN 16931" in xmp
        (spec,) = doc.Root.AF
        assert str(spec.F) == "factur-x.xml"
        assert spec.AFRelationship == pikepdf.Name.Data
        assert "/ID" in doc.trailer
