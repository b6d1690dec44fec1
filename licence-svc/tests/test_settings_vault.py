"""Settings rules (sandbox in development, Microsoft and real secrets in production) and the
password vault."""

from __future__ import annotations

import base64
import os
import stat
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prisme_chassis.keys import generate_keypair
from prisme_chassis.sealing import Keyring, TamperedError, UnknownKeyError
from prisme_licence.passwords import PasswordSealer, load_key, load_keyring
from prisme_licence.settings import LicenceSettings
from pydantic import ValidationError

PUBLIC = generate_keypair()[1]


def _settings(tmp_path: Path, **kw: object) -> LicenceSettings:
    return LicenceSettings(
        database_url="postgresql://x/y", jwt_public_key=PUBLIC, data_dir=tmp_path, **kw
    )


def test_development_talks_to_the_sandbox_and_production_to_microsoft(tmp_path: Path) -> None:
    dev = _settings(tmp_path, env="development")
    assert dev.graph_base_url == "http://127.0.0.1:8010/v1.0"
    assert dev.graph_token_url == "http://127.0.0.1:8010/{tenant}/oauth2/v2.0/token"
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    prod = _settings(
        tmp_path, env="production", graph_client_secret="a-real-secret-value", credentials_key=key
    )
    assert prod.graph_base_url == "https://graph.microsoft.com/v1.0"
    assert prod.graph_token_url.startswith("https://login.microsoftonline.com/{tenant}/")


@pytest.mark.parametrize(
    "kw",
    [
        {"graph_client_secret": None, "credentials_key": "k" * 43},
        {"graph_client_secret": "changeme", "credentials_key": "k" * 43},
        {"graph_client_secret": "a-real-secret-value", "credentials_key": None},
    ],
)
def test_production_refuses_missing_or_placeholder_secrets(
    tmp_path: Path, kw: dict[str, object]
) -> None:
    with pytest.raises(ValidationError):
        _settings(tmp_path, env="production", **kw)


def test_token_url_needs_a_tenant_placeholder(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="tenant"):
        _settings(tmp_path, graph_token_url="http://127.0.0.1:1/token")


def test_development_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    s = _settings(tmp_path, env="test")
    k1, k2 = load_key(s), load_key(s)
    assert k1 == k2
    assert len(k1) == 32
    (path,) = tmp_path.glob("*.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_vault_round_trip_is_bound_to_the_account() -> None:
    vault = PasswordSealer(Keyring(os.urandom(32)))
    a, b = uuid.uuid4(), uuid.uuid4()
    nonce, sealed = vault.seal(a, "Init-Pass-123!")
    assert b"Init-Pass-123!" not in sealed
    assert vault.open(a, nonce, sealed) == "Init-Pass-123!"
    with pytest.raises(TamperedError):
        vault.open(b, nonce, sealed)  # a ciphertext copied onto another account does not open
    with pytest.raises(UnknownKeyError):
        PasswordSealer(Keyring(os.urandom(32))).open(a, nonce, sealed)


def test_rotated_key_still_opens_and_rows_from_before_key_ids_open(tmp_path: Path) -> None:
    old, new = os.urandom(32), os.urandom(32)
    a = uuid.uuid4()
    nonce, sealed = PasswordSealer(Keyring(old)).seal(a, "Avant-Rotation-1!")
    encode = base64.urlsafe_b64encode
    s = _settings(
        tmp_path,
        credentials_key=encode(new).decode(),
        credentials_previous_keys=encode(old).decode(),
    )
    rotated = PasswordSealer(load_keyring(s))
    assert rotated.open(a, nonce, sealed) == "Avant-Rotation-1!"
    assert rotated.keyring.sealed_with(rotated.seal(a, "x")[1]) == rotated.keyring.current_id
    legacy_nonce = os.urandom(12)
    legacy = AESGCM(old).encrypt(legacy_nonce, b"Ancien-Format-2!", a.bytes)
    assert rotated.open(a, legacy_nonce, legacy) == "Ancien-Format-2!"
