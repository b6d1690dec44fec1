"""billing-svc settings (env prefix ``PRISME_``; service-specific ``PRISME_BILLING_``)."""

from __future__ import annotations

import ipaddress
from typing import ClassVar
from urllib.parse import urlsplit

from prisme_chassis.settings import ServiceSettings, secret_from_data_dir
from pydantic import AliasChoices, Field, SecretStr, model_validator

#: The development stand-ins' values (docker-compose's dev overlay, the sandbox's defaults):
#: a production deployment that still carries one is pointed at the sandbox by mistake.
SANDBOX_SECRETS = frozenset({"sk_test_sandbox", "whsec_compose_sandbox_secret"})
#: Stripe test-mode keys: they reach only Stripe's test data, never real payments.
TEST_MODE_KEY_PREFIXES = ("sk_test_", "rk_test_")


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name, f"PRISME_BILLING_{name.upper()}")


class BillingSettings(ServiceSettings):
    """Seller identity (B7) comes from here; Stripe defaults to the local sandbox (§6)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("stripe_api_key", "stripe_webhook_secret")

    http_port: int = 8002
    database_url: str = Field(
        validation_alias=AliasChoices("database_url", "PRISME_BILLING_DATABASE_URL")
    )

    stripe_api_base: str = Field(
        default="http://127.0.0.1:8011", validation_alias=_alias("stripe_api_base")
    )
    stripe_api_key: SecretStr | None = Field(
        default=None, validation_alias=_alias("stripe_api_key")
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=_alias("stripe_webhook_secret")
    )
    #: Stripe webhooks older than this are refused (R3, replay window); 0 would switch the
    #: timestamp check off, so it is refused.
    stripe_webhook_tolerance_s: int = Field(
        default=300, gt=0, validation_alias=_alias("stripe_webhook_tolerance_s")
    )
    stripe_enabled: bool = Field(default=True, validation_alias=_alias("stripe_enabled"))
    worker_poll_s: float = Field(default=1.0, validation_alias=_alias("worker_poll_s"))
    sweep_every_s: float = Field(default=60.0, validation_alias=_alias("sweep_every_s"))
    reconcile_every_s: float = Field(default=300.0, validation_alias=_alias("reconcile_every_s"))

    seller_name: str = Field(
        default="PRISME Informatique SAS", validation_alias=_alias("seller_name")
    )
    seller_siren: str = Field(default="912345674", validation_alias=_alias("seller_siren"))
    seller_vat_id: str = Field(default="FR40912345674", validation_alias=_alias("seller_vat_id"))
    seller_address: str = Field(
        default="12 rue de Paris", validation_alias=_alias("seller_address")
    )
    seller_postal_code: str = Field(default="97400", validation_alias=_alias("seller_postal_code"))
    seller_city: str = Field(default="Saint-Denis", validation_alias=_alias("seller_city"))
    seller_email: str = Field(
        default="facturation@prisme.example", validation_alias=_alias("seller_email")
    )
    seller_legal_form: str = Field(
        default="SAS au capital de 10 000 €", validation_alias=_alias("seller_legal_form")
    )
    #: B7: late-payment penalty rate printed on every invoice.
    late_penalty_rate: str = Field(
        default="3 fois le taux d'intérêt légal", validation_alias=_alias("late_penalty_rate")
    )

    @model_validator(mode="after")
    def _dev_secrets(self) -> BillingSettings:
        # Development/test: secrets are generated once into data_dir and reused (conventions).
        if self.env != "production":
            if not self.stripe_api_key:
                key = secret_from_data_dir(self, "stripe_api_key", 24).hex()
                self.stripe_api_key = SecretStr("sk_test_" + key)
            if not self.stripe_webhook_secret:
                secret = secret_from_data_dir(self, "stripe_webhook_secret", 24).hex()
                self.stripe_webhook_secret = SecretStr("whsec_" + secret)
            return self
        _refuse_sandbox_api_base(self.stripe_api_base)
        key = _reveal(self.stripe_api_key)
        if key in SANDBOX_SECRETS or key.startswith(TEST_MODE_KEY_PREFIXES):
            raise ValueError("stripe_api_key: a sandbox or test-mode key is refused in production")
        if _reveal(self.stripe_webhook_secret) in SANDBOX_SECRETS:
            raise ValueError("stripe_webhook_secret: the sandbox's secret is refused in production")
        return self

    def stripe_key(self) -> str:
        return _reveal(self.stripe_api_key)

    def webhook_secret(self) -> str:
        return _reveal(self.stripe_webhook_secret)


def _refuse_sandbox_api_base(url: str) -> None:
    """Production talks to Stripe over https, never to a local or in-cluster stand-in."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        raise ValueError("stripe_api_base must be an https URL in production")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        local = host == "localhost" or host.endswith((".localhost", ".local"))
        if local or "sandbox" in host or "." not in host:
            raise ValueError(
                f"stripe_api_base {url!r} names a sandbox or local host; refused in production"
            ) from None
        return
    if address.is_private or address.is_loopback or address.is_link_local:
        raise ValueError(f"stripe_api_base {url!r} is a local address; refused in production")


def _reveal(value: SecretStr | str | None) -> str:
    if value is None:
        raise ValueError("secret not configured")
    return value.get_secret_value() if isinstance(value, SecretStr) else value
