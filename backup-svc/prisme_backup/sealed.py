"""What backup-svc keeps sealed at rest, with the chassis keyring (key ids, rotation):
repository passwords in the database (bound to their plan) and export archives on disk
(bound to their export)."""

from __future__ import annotations

import uuid

from prisme_chassis.sealing import Keyring, SealingError


def seal_repository_password(keyring: Keyring, plan_id: uuid.UUID, password: str) -> bytes:
    return keyring.seal_text(password, str(plan_id))


def open_repository_password(keyring: Keyring, plan_id: uuid.UUID, sealed: bytes) -> str:
    """Rows sealed before key ids existed (``nonce || ciphertext``) still open."""
    if Keyring.is_envelope(sealed):
        try:
            return keyring.open_text(sealed, str(plan_id))
        except SealingError:
            pass  # a legacy nonce that happens to start like an envelope (2^-24)
    return keyring.open_legacy(sealed, str(plan_id).encode()).decode()


def export_context(export_id: uuid.UUID) -> bytes:
    return b"backup-export:" + export_id.bytes
