"""The TOTP second factor (RFC 6238, pyotp) and recovery codes (DESIGN §7).

A code is accepted once: its time step must be later than the last accepted one.  Recovery
codes are random (80 bits), shown once, stored as SHA-256 hashes, each usable once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

ISSUER = "PRISME"
RECOVERY_CODES = 10
_STEP = 30


def new_seed() -> str:
    return pyotp.random_base32()


def provisioning_uri(seed: str, email: str) -> str:
    return pyotp.TOTP(seed).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as inline SVG markup (no script, no external image)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff")


def verify(seed: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step ``code`` matches (±1 step of clock drift), or None; never a used step."""
    digits = "".join(code.split())
    if len(digits) != 6 or not digits.isdigit():
        return None
    totp = pyotp.TOTP(seed)
    current = int(now.timestamp()) // _STEP
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


def new_recovery_codes() -> list[str]:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return [
        "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))
        for _ in range(RECOVERY_CODES)
    ]


def recovery_hash(code: str) -> bytes:
    normalised = "".join(code.lower().split()).replace("-", "")
    return hashlib.sha256(b"prisme-recovery:" + normalised.encode()).digest()


def looks_like_recovery_code(code: str) -> bool:
    return len("".join(code.split()).replace("-", "")) == 16
