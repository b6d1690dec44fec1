"""Initial passwords at rest: AES-256-GCM with a key kept apart from the database (L1)."""

from __future__ import annotations

import base64
import os
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prisme_chassis.settings import SecretUnavailableError, secret_from_data_dir

from .settings import LicenceSettings

KEY_BYTES = 32


def load_key(settings: LicenceSettings) -> bytes:
    """The credentials key from settings, else (development/test) generated in ``data_dir``."""
    if settings.credentials_key:
        key = base64.urlsafe_b64decode(
            settings.credentials_key + "=" * (-len(settings.credentials_key) % 4)
        )
        if len(key) != KEY_BYTES:
            raise SecretUnavailableError("credentials_key must be 32 bytes, base64url-encoded")
        return key
    return secret_from_data_dir(settings, "licence-credentials", KEY_BYTES)


class Vault:
    """Seal and open passwords; the account id is bound as associated data so a ciphertext
    copied onto another account does not open."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, account_id: uuid.UUID, secret: str) -> tuple[bytes, bytes]:
        nonce = os.urandom(12)
        return nonce, self._aead.encrypt(nonce, secret.encode(), account_id.bytes)

    def open(self, account_id: uuid.UUID, nonce: bytes, ciphertext: bytes) -> str:
        return self._aead.decrypt(nonce, ciphertext, account_id.bytes).decode()
