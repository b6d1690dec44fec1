"""billing-svc settings (env prefix ``PRISME_``; service-specific ``PRISME_BILLING_``)."""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from typing import ClassVar
from urllib.parse import urlsplit

from prisme_chassis.mail import SmtpSettings
from prisme_chassis.settings import ServiceSettings, secret_from_data_dir
from pydantic import AliasChoices, Field, SecretStr, model_validator

#: The development stand-ins' values (docker-compose's dev overlay, the sandbox's defaults):
#: a production deployment that still carries one is pointed at the sandbox by mistake.
SANDBOX_SECRETS = frozenset({"sk_test_sandbox", "whsec_compose_sandbox_secret"})
#: Stripe test-mode keys: they reach only Stripe's test data, never real payments.
TEST_MODE_KEY_PREFIXES = ("sk_test_", "rk_test_")


def _alias(name: str) -> AliasChoices:
    return AliasChoices(name, f"PRISME_BILLING_{name.upper()}")


class BillingSettings(ServiceSettings, SmtpSettings):
    """Seller identity (B7) comes from here; Stripe defaults to the local sandbox (§6); the
    SMTP relay is the platform's (``PRISME_SMTP_*``, prisme_chassis.mail), for B11."""

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
    # Stripe jobs (calls and received events): back-off 5 s doubling to 15 min, 20 runs, so
    # an outage of a few hours delays them without losing any (B8).
    stripe_job_max_attempts: int = Field(
        default=20, ge=1, validation_alias=_alias("stripe_job_max_attempts")
    )
    stripe_job_backoff_base_s: float = Field(
        default=5.0, ge=0, validation_alias=_alias("stripe_job_backoff_base_s")
    )
    stripe_job_backoff_cap_s: float = Field(
        default=900.0, ge=0, validation_alias=_alias("stripe_job_backoff_cap_s")
    )
    sweep_every_s: float = Field(default=60.0, validation_alias=_alias("sweep_every_s"))

    # B11: documents e-mailed to the practice's manager (chassis job queue + SMTP relay). An
    # outage of the relay backs off 10 s doubling to 15 min, 30 runs (a few hours), then the
    # job is dead (GET /v1/jobs?state=dead, retried by POST /v1/jobs/{id}/retry).
    mail_from: str = Field(
        default="REUNIONINFORMATIQUE.COM — Facturation <facturation@reunioninformatique.com>",
        validation_alias=_alias("mail_from"),
    )
    mail_job_max_attempts: int = Field(
        default=30, ge=1, validation_alias=_alias("mail_job_max_attempts")
    )
    mail_job_backoff_base_s: float = Field(
        default=10.0, ge=0, validation_alias=_alias("mail_job_backoff_base_s")
    )
    mail_job_backoff_cap_s: float = Field(
        default=900.0, ge=0, validation_alias=_alias("mail_job_backoff_cap_s")
    )
    reconcile_every_s: float = Field(default=300.0, validation_alias=_alias("reconcile_every_s"))

    # B7: the seller's legal identity. The provider is REUNIONINFORMATIQUE.COM, Sainte-Clotilde
    # (the service terms); its legal details are configuration, not code. The defaults below
    # are EXAMPLE values for development and tests only, every one visibly marked; production
    # refuses to start while any of them is missing or still an example (see _seller_identity).
    seller_trade_name: str = Field(
        default="REUNIONINFORMATIQUE.COM", validation_alias=_alias("seller_trade_name")
    )
    seller_legal_name: str = Field(
        default="EXEMPLE — raison sociale à configurer",
        validation_alias=_alias("seller_legal_name"),
    )
    seller_legal_form: str = Field(
        default="EXEMPLE — forme juridique et capital", validation_alias=_alias("seller_legal_form")
    )
    #: 9 digits; the example is the SIREN INSEE documents as fictitious-looking test data.
    seller_siren: str = Field(default="000000000", validation_alias=_alias("seller_siren"))
    seller_vat_id: str = Field(default="FR00000000000", validation_alias=_alias("seller_vat_id"))
    seller_address: str = Field(
        default="EXEMPLE — adresse à configurer", validation_alias=_alias("seller_address")
    )
    seller_postal_code: str = Field(default="97490", validation_alias=_alias("seller_postal_code"))
    seller_city: str = Field(default="Sainte-Clotilde", validation_alias=_alias("seller_city"))
    seller_email: str = Field(
        default="prisme@reunioninformatique.com", validation_alias=_alias("seller_email")
    )
    seller_phone: str = Field(default="0262 79 00 11", validation_alias=_alias("seller_phone"))
    #: Bank details printed for transfers (and embedded as the SEPA credit-transfer means).
    seller_iban: str = Field(
        default="FR7600000000000000000000000", validation_alias=_alias("seller_iban")
    )
    seller_bic: str = Field(default="EXAMPLEXXXXX", validation_alias=_alias("seller_bic"))
    #: B7/B10: the annual late-payment penalty rate (percent), used to compute penalties.
    late_penalty_rate_percent: Decimal = Field(
        default=Decimal("10.00"), ge=0, le=100, validation_alias=_alias("late_penalty_rate_percent")
    )
    #: B7: how the penalty rate is worded on documents ({rate} is replaced by the rate).
    late_penalty_wording: str = Field(
        default="taux annuel de {rate} % (au moins trois fois le taux d'intérêt légal)",
        validation_alias=_alias("late_penalty_wording"),
    )

    #: Seller fields that must be set, and not left at an example, in production. (The trade
    #: name, town, postal code, e-mail and phone default to the provider's real ones, from the
    #: service terms.)
    SELLER_FIELDS: ClassVar[tuple[str, ...]] = (
        "seller_legal_name",
        "seller_legal_form",
        "seller_siren",
        "seller_vat_id",
        "seller_address",
        "seller_postal_code",
        "seller_city",
        "seller_email",
        "seller_iban",
        "seller_bic",
    )

    @model_validator(mode="after")
    def _seller_identity(self) -> BillingSettings:
        if self.env == "production":
            left = [name for name in self.SELLER_FIELDS if _is_example(getattr(self, name))]
            if left:
                env = ", ".join(f"PRISME_BILLING_{n.upper()}" for n in left)
                raise ValueError(
                    f"production needs the seller's real legal identity (B7); set {env}"
                )
        if not re.fullmatch(r"\d{9}", self.seller_siren):
            raise ValueError("PRISME_BILLING_SELLER_SIREN must be 9 digits")
        return self

    def late_penalty(self) -> str:
        rate = f"{self.late_penalty_rate_percent:.2f}".replace(".", ",")
        return self.late_penalty_wording.replace("{rate}", rate)

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


#: The example values above that are not worded as examples (digits and codes).
_EXAMPLE_VALUES = frozenset(
    {"000000000", "FR00000000000", "FR7600000000000000000000000", "EXAMPLEXXXXX"}
)


def _is_example(value: str) -> bool:
    upper = value.strip().upper()
    return not upper or "EXEMPLE" in upper or "EXAMPLE" in upper or upper in _EXAMPLE_VALUES


def _reveal(value: SecretStr | str | None) -> str:
    if value is None:
        raise ValueError("secret not configured")
    return value.get_secret_value() if isinstance(value, SecretStr) else value
