"""The token issuer (DESIGN §7): the dashboard alone holds the platform's signing key.

For each call to a service on an operator's behalf it mints a JWT of at most five minutes:
``sub`` = the operator's id, ``name``, and the scopes of the operator's roles (O1).  The header
carries the key's ``kid``, so a rotation is seamless: services trust the new and the previous
public key during the overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prisme_chassis.keys import mint_token, private_key_id

from .operators import Operator

OPERATOR_TOKEN_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class Issuer:
    private_pem: str = field(repr=False)

    @property
    def kid(self) -> str:
        return private_key_id(self.private_pem)

    def for_operator(self, operator: Operator, *, now: datetime | None = None) -> str:
        """A token for one call (or a few within five minutes) by ``operator``."""
        return mint_token(
            self.private_pem,
            sub=str(operator.id),
            name=operator.name,
            scopes=operator.scopes,
            ttl=OPERATOR_TOKEN_TTL,
            now=now,
        )

    def for_integration(
        self, *, token_id: str, name: str, scopes: list[str], expires_at: datetime, now: datetime
    ) -> str:
        """A named integration token; its ``jti`` is the row id the dashboard revokes by."""
        return mint_token(
            self.private_pem,
            sub=f"integration:{token_id}",
            name=name,
            scopes=scopes,
            ttl=expires_at - now,
            jti=token_id,
            now=now,
        )
