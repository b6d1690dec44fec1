"""The dashboard's keys, each derived (HKDF) from its one secret key for one purpose."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LOGIN_CSRF = "prisme-dashboard/login-csrf"
TOTP_SEED = "prisme-dashboard/totp-seed"


def derive_key(secret_key: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret_key
    )
