"""Initial passwords at rest (L1): sealed with the chassis keyring, bound to their account.

The key is kept apart from the database (settings, or ``data_dir`` outside production); the
account id is the sealing context, so a ciphertext copied onto another account does not open.
Rows written before key ids existed (``nonce`` column filled, no envelope) still open with any
known key; new rows keep the whole envelope in ``ciphertext`` and an empty ``nonce``.
"""

from __future__ import annotations

import uuid

from prisme_chassis.sealing import KEY_BYTES, Keyring, decode_key, decode_keys
from prisme_chassis.settings import SecretUnavailableError, secret_from_data_dir

from .settings import LicenceSettings


def load_key(settings: LicenceSettings) -> bytes:
    """The current credentials key from settings, else (development/test) one in ``data_dir``."""
    if settings.credentials_key:
        try:
            return decode_key(settings.credentials_key, name="credentials_key")
        except ValueError as exc:
            raise SecretUnavailableError(str(exc)) from exc
    return secret_from_data_dir(settings, "licence-credentials", KEY_BYTES)


def load_keyring(settings: LicenceSettings) -> Keyring:
    previous = decode_keys(settings.credentials_previous_keys, name="credentials_previous_keys")
    return Keyring(load_key(settings), previous)


class PasswordSealer:
    """Seal and open initial passwords, one account each."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def seal(self, account_id: uuid.UUID, secret: str) -> tuple[bytes, bytes]:
        """``(nonce, ciphertext)`` as the ``credentials`` table stores them (nonce now empty:
        the envelope carries its own, with the key id)."""
        return b"", self.keyring.seal(secret.encode(), account_id.bytes)

    def open(self, account_id: uuid.UUID, nonce: bytes, ciphertext: bytes) -> str:
        if nonce:
            return self.keyring.open_legacy(nonce + ciphertext, account_id.bytes).decode()
        return self.keyring.open(ciphertext, account_id.bytes).decode()
