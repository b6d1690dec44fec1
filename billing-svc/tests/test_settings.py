"""Settings: secrets generated once in development, hidden, refused as placeholders in production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prisme_billing.settings import BillingSettings
from pydantic import ValidationError


def test_dev_secrets_are_generated_once_and_never_shown(
    base_settings: dict[str, Any], tmp_path: Path
) -> None:
    first = BillingSettings(**base_settings, database_url="postgresql://x/y")
    again = BillingSettings(**base_settings, database_url="postgresql://x/y")
    assert first.stripe_key().startswith("sk_test_")
    assert first.webhook_secret().startswith("whsec_")
    assert (first.stripe_key(), first.webhook_secret()) == (
        again.stripe_key(),
        again.webhook_secret(),
    )
    assert first.stripe_key() not in repr(first)
    assert first.webhook_secret() not in repr(first)
    files = {p.name: p.stat().st_mode & 0o777 for p in Path(base_settings["data_dir"]).iterdir()}
    assert files == {"stripe_api_key.key": 0o600, "stripe_webhook_secret.key": 0o600}


#: A seller identity for tests of production mode (test data, not the provider's).
TEST_SELLER = {
    "seller_legal_name": "Société de test SARL",
    "seller_legal_form": "SARL au capital de 1 000 €",
    "seller_siren": "123456789",
    "seller_vat_id": "FR32123456789",
    "seller_address": "1 rue du Test",
    "seller_postal_code": "97490",
    "seller_city": "Sainte-Clotilde",
    "seller_email": "factures@test.invalid",
    "seller_iban": "FR1420041010050500013M02606",
    "seller_bic": "PSSTFRPPXXX",
}


def test_production_refuses_placeholders(base_settings: dict[str, Any]) -> None:
    prod = {
        **base_settings,
        "env": "production",
        "database_url": "postgresql://x/y",
        "stripe_api_base": "https://api.stripe.com",
        **TEST_SELLER,
    }
    with pytest.raises(ValidationError, match="stripe_api_key"):
        BillingSettings(**prod, stripe_api_key="changeme", stripe_webhook_secret="whsec_real1")
    with pytest.raises(ValidationError, match="stripe_webhook_secret"):
        BillingSettings(**prod, stripe_api_key="sk_live_real", stripe_webhook_secret="")
    ok = BillingSettings(**prod, stripe_api_key="sk_live_abc", stripe_webhook_secret="whsec_abc")
    assert ok.stripe_key() == "sk_live_abc"


PRODUCTION_KEYS = {"stripe_api_key": "sk_live_abc", "stripe_webhook_secret": "whsec_abc"}


@pytest.mark.parametrize("tolerance", [0, -1])
def test_a_webhook_tolerance_that_disables_the_timestamp_check_is_refused(
    base_settings: dict[str, Any], tolerance: int
) -> None:
    with pytest.raises(ValidationError, match="stripe_webhook_tolerance_s"):
        BillingSettings(
            **base_settings, database_url="postgresql://x/y", stripe_webhook_tolerance_s=tolerance
        )


@pytest.mark.parametrize(
    "api_base",
    [
        "http://127.0.0.1:8011",  # the default: the local sandbox
        "http://stripe-sandbox:8011",  # docker-compose's sandbox
        "https://stripe-sandbox.prisme.svc",
        "https://localhost:8011",
        "https://10.0.0.7",
        "http://api.stripe.com",  # not https
    ],
)
def test_production_refuses_a_sandbox_or_local_stripe_url(
    base_settings: dict[str, Any], api_base: str
) -> None:
    prod = {
        **base_settings,
        "env": "production",
        "database_url": "postgresql://x/y",
        **TEST_SELLER,
    }
    with pytest.raises(ValidationError, match="stripe_api_base"):
        BillingSettings(**prod, **PRODUCTION_KEYS, stripe_api_base=api_base)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stripe_api_key", "sk_test_sandbox"),  # docker-compose's dev default
        ("stripe_api_key", "sk_test_51Habc"),  # any test-mode key
        ("stripe_webhook_secret", "whsec_compose_sandbox_secret"),
    ],
)
def test_production_refuses_the_sandbox_secrets(
    base_settings: dict[str, Any], field: str, value: str
) -> None:
    prod = {
        **base_settings,
        "env": "production",
        "database_url": "postgresql://x/y",
        "stripe_api_base": "https://api.stripe.com",
        **TEST_SELLER,
    }
    with pytest.raises(ValidationError, match=field):
        BillingSettings(**{**prod, **PRODUCTION_KEYS, field: value})


def test_development_still_runs_against_the_local_sandbox(base_settings: dict[str, Any]) -> None:
    dev = BillingSettings(**base_settings, database_url="postgresql://x/y")
    assert dev.stripe_api_base == "http://127.0.0.1:8011"


def test_development_seller_is_marked_as_an_example(base_settings: dict[str, Any]) -> None:
    dev = BillingSettings(**base_settings, database_url="postgresql://x/y")
    assert dev.seller_trade_name == "REUNIONINFORMATIQUE.COM"
    assert dev.seller_city == "Sainte-Clotilde"
    assert "EXEMPLE" in dev.seller_legal_name
    assert "EXEMPLE" in dev.seller_address


EXAMPLE_DEFAULTS = sorted(
    k for k in TEST_SELLER if k not in ("seller_postal_code", "seller_city", "seller_email")
)


@pytest.mark.parametrize("field", EXAMPLE_DEFAULTS)
def test_production_refuses_a_missing_or_example_seller(
    base_settings: dict[str, Any], field: str
) -> None:
    prod = {
        **base_settings,
        "env": "production",
        "database_url": "postgresql://x/y",
        "stripe_api_base": "https://api.stripe.com",
        "stripe_api_key": "sk_live_abc",
        "stripe_webhook_secret": "whsec_abc",
    }
    BillingSettings(**prod, **TEST_SELLER)  # the complete identity starts
    left_at_default = {k: v for k, v in TEST_SELLER.items() if k != field}
    with pytest.raises(ValidationError, match=f"PRISME_BILLING_{field.upper()}"):
        BillingSettings(**prod, **left_at_default)
    with pytest.raises(ValidationError, match=f"PRISME_BILLING_{field.upper()}"):
        BillingSettings(**prod, **{**TEST_SELLER, field: "EXEMPLE à remplacer"})
    with pytest.raises(ValidationError, match=f"PRISME_BILLING_{field.upper()}"):
        BillingSettings(**prod, **{**TEST_SELLER, field: " "})
