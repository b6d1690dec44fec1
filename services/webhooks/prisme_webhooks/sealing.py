"""Sealing of the endpoints' signing secrets at rest (DESIGN.md §7: never stored in clear).

The service must sign with the secret, so it is sealed (AES-256-GCM), not hashed. Each sealed
value names the key that sealed it (``kid``) so keys rotate: the first configured key seals,
every configured key opens. The endpoint id is the associated data, so a sealed secret copied
onto another row does not open.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from prisme_chassis.settings import ServiceSettings, secret_from_data_dir

_NONCE = 12


class SealingError(ValueError):
    pass


@dataclass(frozen=True)
class Sealer:
    keys: dict[str, bytes]
    current: str

    @classmethod
    def parse(cls, text: str) -> Sealer:
        """``kid:base64key[,kid:base64key…]``; the first seals."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in text.split(","):
            kid, _, encoded = part.strip().partition(":")
            key = base64.b64decode(encoded)
            if not kid or len(key) != 32:
                raise SealingError("master keys are kid:base64 of 32 bytes")
            keys[kid] = key
            order.append(kid)
        if not order:
            raise SealingError("no master key")
        return cls(keys, order[0])

    @classmethod
    def from_settings(cls, settings: ServiceSettings, configured: str | None) -> Sealer:
        if configured:
            return cls.parse(configured)
        # development and test only (raises in production): generated once in data_dir
        key = secret_from_data_dir(settings, "webhooks-master", 32)
        return cls({"dev1": key}, "dev1")

    def seal(self, plaintext: str, context: str) -> tuple[str, bytes]:
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(self.keys[self.current]).encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        return self.current, nonce + sealed

    def open(self, kid: str, sealed: bytes, context: str) -> str:
        try:
            key = self.keys[kid]
        except KeyError as exc:
            raise SealingError(f"unknown sealing key {kid!r}") from exc
        nonce, body = sealed[:_NONCE], sealed[_NONCE:]
        return AESGCM(key).decrypt(nonce, body, context.encode()).decode()
