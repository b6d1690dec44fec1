"""ServiceSettings: env prefix, key file alternative, placeholder refusal, data-dir secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import ClassVar

import pytest
from prisme_chassis.keys import generate_keypair
from prisme_chassis.settings import (
    SecretUnavailableError,
    ServiceSettings,
    is_placeholder,
    refuse_placeholder,
    secret_from_data_dir,
)
from pydantic import AliasChoices, Field, ValidationError

PUBLIC_PEM = generate_keypair()[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PRISME_"):
            monkeypatch.delenv(name)


class BillingLikeSettings(ServiceSettings):
    secret_fields: ClassVar[tuple[str, ...]] = ("stripe_api_key", "webhook_secret")
    http_port: int = 8002
    stripe_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("stripe_api_key", "PRISME_BILLING_STRIPE_API_KEY"),
    )
    webhook_secret: str | None = Field(
        default=None,
        validation_alias=AliasChoices("webhook_secret", "PRISME_BILLING_WEBHOOK_SECRET"),
    )


def test_reads_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISME_JWT_PUBLIC_KEY", PUBLIC_PEM)
    monkeypatch.setenv("PRISME_ENV", "test")
    monkeypatch.setenv("PRISME_HTTP_PORT", "9123")
    monkeypatch.setenv("PRISME_DATA_DIR", "/tmp/prisme-x")
    monkeypatch.setenv("PRISME_SOMETHING_UNKNOWN", "ignored")
    settings = ServiceSettings()
    assert settings.env == "test"
    assert settings.http_port == 9123
    assert settings.data_dir == Path("/tmp/prisme-x")
    assert settings.jwt_public_key == PUBLIC_PEM
    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.otlp_endpoint is None
    assert settings.stream_replicas == 1


def test_defaults() -> None:
    settings = ServiceSettings(jwt_public_key=PUBLIC_PEM)
    assert settings.env == "development"
    assert settings.http_host == "127.0.0.1"
    assert settings.http_port == 8000
    assert settings.log_level == "INFO"
    assert settings.data_dir == Path(".prisme/service")


def test_public_key_is_required() -> None:
    with pytest.raises(ValidationError, match="jwt_public_key"):
        ServiceSettings()


def test_public_key_must_be_pem() -> None:
    with pytest.raises(ValidationError, match="PEM"):
        ServiceSettings(jwt_public_key="not a key")


def test_public_key_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key_file = tmp_path / "platform.pub"
    key_file.write_text(PUBLIC_PEM)
    monkeypatch.setenv("PRISME_JWT_PUBLIC_KEY_FILE", str(key_file))
    assert ServiceSettings().jwt_public_key == PUBLIC_PEM


def test_unreadable_key_file_is_a_validation_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        ServiceSettings(jwt_public_key_file=tmp_path / "missing.pub")


def test_invalid_env_refused() -> None:
    with pytest.raises(ValidationError):
        ServiceSettings(jwt_public_key=PUBLIC_PEM, env="staging")  # type: ignore[arg-type]


def test_service_alias_and_own_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRISME_JWT_PUBLIC_KEY", PUBLIC_PEM)
    monkeypatch.setenv("PRISME_BILLING_STRIPE_API_KEY", "sk_test_123")
    settings = BillingLikeSettings()
    assert settings.http_port == 8002
    assert settings.stripe_api_key == "sk_test_123"


@pytest.mark.parametrize("value", [None, "", "changeme", "CHANGEME", " dev ", "secret"])
def test_production_refuses_placeholder_secrets(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    monkeypatch.setenv("PRISME_JWT_PUBLIC_KEY", PUBLIC_PEM)
    monkeypatch.setenv("PRISME_ENV", "production")
    monkeypatch.setenv("PRISME_BILLING_WEBHOOK_SECRET", "whsec_REAL_4b1d")
    if value is not None:
        monkeypatch.setenv("PRISME_BILLING_STRIPE_API_KEY", value)
    with pytest.raises(ValidationError, match="stripe_api_key must be set") as info:
        BillingLikeSettings()
    # the error names the field but never prints the configured secrets (R5)
    assert "whsec_REAL_4b1d" not in str(info.value)


def test_production_accepts_real_secret_and_dev_accepts_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PRISME_JWT_PUBLIC_KEY", PUBLIC_PEM)
    monkeypatch.setenv("PRISME_ENV", "production")
    monkeypatch.setenv("PRISME_BILLING_STRIPE_API_KEY", "sk_live_7f3a9c")
    monkeypatch.setenv("PRISME_BILLING_WEBHOOK_SECRET", "whsec_9c1e")
    assert BillingLikeSettings().stripe_api_key == "sk_live_7f3a9c"
    monkeypatch.setenv("PRISME_ENV", "development")
    monkeypatch.setenv("PRISME_BILLING_STRIPE_API_KEY", "changeme")
    assert BillingLikeSettings().stripe_api_key == "changeme"


def test_placeholder_helpers() -> None:
    assert is_placeholder(None)
    assert is_placeholder(b"dev")
    assert not is_placeholder("a-real-secret-value")
    refuse_placeholder("development", "x", "")
    with pytest.raises(ValueError, match="x must be set"):
        refuse_placeholder("production", "x", "change-me")


def test_secret_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = ServiceSettings(jwt_public_key=PUBLIC_PEM, env="test", data_dir=tmp_path / "d")
    first = secret_from_data_dir(settings, "master", 32)
    assert len(first) == 32
    path = tmp_path / "d" / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_from_data_dir(settings, "master", 32) == first
    other = secret_from_data_dir(settings, "other", 32)
    assert other != first
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["master.key", "other.key"]


def test_secret_reused_by_a_new_settings_instance(tmp_path: Path) -> None:
    one = ServiceSettings(jwt_public_key=PUBLIC_PEM, data_dir=tmp_path)
    two = ServiceSettings(jwt_public_key=PUBLIC_PEM, data_dir=tmp_path)
    assert secret_from_data_dir(one, "k", 16) == secret_from_data_dir(two, "k", 16)


def test_secret_from_data_dir_refused_in_production(tmp_path: Path) -> None:
    settings = ServiceSettings(jwt_public_key=PUBLIC_PEM, env="production", data_dir=tmp_path)
    with pytest.raises(SecretUnavailableError):
        secret_from_data_dir(settings, "master", 32)
    assert list(tmp_path.iterdir()) == []


def test_secret_with_wrong_length_is_not_used(tmp_path: Path) -> None:
    settings = ServiceSettings(jwt_public_key=PUBLIC_PEM, data_dir=tmp_path)
    secret_from_data_dir(settings, "master", 16)
    with pytest.raises(SecretUnavailableError, match="expected 32"):
        secret_from_data_dir(settings, "master", 32)


@pytest.mark.parametrize("name", ["", "../escape", ".hidden"])
def test_secret_name_cannot_escape_data_dir(tmp_path: Path, name: str) -> None:
    settings = ServiceSettings(jwt_public_key=PUBLIC_PEM, data_dir=tmp_path / "d")
    with pytest.raises(ValueError, match="invalid secret name"):
        secret_from_data_dir(settings, name, 8)
