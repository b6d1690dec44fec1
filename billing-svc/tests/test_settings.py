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


def test_production_refuses_placeholders(base_settings: dict[str, Any]) -> None:
    prod = {**base_settings, "env": "production", "database_url": "postgresql://x/y"}
    with pytest.raises(ValidationError, match="stripe_api_key"):
        BillingSettings(**prod, stripe_api_key="changeme", stripe_webhook_secret="whsec_real1")
    with pytest.raises(ValidationError, match="stripe_webhook_secret"):
        BillingSettings(**prod, stripe_api_key="sk_live_real", stripe_webhook_secret="")
    ok = BillingSettings(**prod, stripe_api_key="sk_live_abc", stripe_webhook_secret="whsec_abc")
    assert ok.stripe_key() == "sk_live_abc"
