"""What an audit row says (O3) and the redaction that keeps secrets out of it (R5)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python

#: What replaces a secret's value in the trail.
REDACTED = "[redacted]"

#: A key naming one of these is a secret whatever its value (lower-cased, ``-`` read as ``_``):
#: initial and link passwords, webhook and API secrets, session and link tokens, TOTP seeds,
#: recovery codes, private keys, credentials, cookies and authorisation headers.
_SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "seed",
    "totp",
    "otp_uri",
    "recovery_code",
    "api_key",
    "apikey",
    "private_key",
    "signing_key",
    "credential",
    "cookie",
    "authorization",
    "sealed",
    "ciphertext",
)
#: ... unless it only names or dates one (``token_name``, ``password_changed_at``, ``secret_id``).
_HARMLESS_SUFFIXES = ("_id", "_ids", "_name", "_at", "_count", "_expires", "_kind", "_prefix")
#: Values that are secrets whatever their key: Standard Webhooks secrets, JWTs, PEM keys.
_SECRET_VALUE = re.compile(r"^(whsec_|eyJ[\w-]+\.eyJ[\w-]+\.)|-----BEGIN [A-Z ]*PRIVATE KEY-----")


def is_secret_key(key: str) -> bool:
    name = key.lower().replace("-", "_")
    if name.endswith(_HARMLESS_SUFFIXES):
        return False
    return any(word in name for word in _SECRET_WORDS)


def redact(value: Any) -> Any:
    """``value`` as JSON data (UUIDs, dates, Decimals as strings), with every secret replaced
    by :data:`REDACTED`: under a secret-naming key (at any depth) or shaped like one."""
    return _redact(to_jsonable_python(value, fallback=str))


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            str(k): REDACTED if is_secret_key(str(k)) and v is not None else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str) and _SECRET_VALUE.search(value):
        return REDACTED
    return value


@dataclass(frozen=True)
class Actor:
    """Who changes something, and from where (O3).

    ``sub`` is the token's subject: the operator's id for a dashboard-minted token,
    ``integration:<jti>`` for an integration token, ``system:<what>`` for the service's own
    schedulers and workers, ``event:<type>`` for a bus handler (:meth:`event`). ``name`` is the operator's (or token's) name as the token carries
    it. ``address`` is the caller's IP address, ``request_id`` its ``X-Request-ID`` header,
    ``trace_id`` the OpenTelemetry trace of the request.
    """

    sub: str
    name: str | None = None
    address: str | None = None
    request_id: str | None = None
    trace_id: str | None = None

    @classmethod
    def system(cls, what: str, name: str | None = None) -> Actor:
        """The service itself (a scheduler, a worker, a command): ``system:<what>``."""
        return cls(sub=f"system:{what}", name=name or "système")

    @classmethod
    def event(cls, event: Any, name: str | None = None) -> Actor:
        """A bus handler applying ``event``: ``event:<type>``, the event's id as request id
        (so a row leads back to the message that caused it), its trace if one is current."""
        return cls(
            sub=f"event:{event.subject}",
            name=name or "système",
            request_id=str(event.event_id),
        )

    @property
    def kind(self) -> str:
        """``system``, ``event``, ``integration`` or ``operator``."""
        if self.sub.startswith("system:"):
            return "system"
        if self.sub.startswith("event:"):
            return "event"
        if self.sub.startswith("integration:"):
            return "integration"
        return "operator"


@dataclass(frozen=True)
class AuditEntry:
    """One row of the trail, as read back."""

    id: int
    at: datetime
    actor: str
    actor_name: str | None
    action: str
    target_type: str | None
    target_id: str | None
    client_id: uuid.UUID | None
    reason: str | None
    address: str | None
    request_id: str | None
    trace_id: str | None
    before: Any
    after: Any
    detail: Mapping[str, Any]
