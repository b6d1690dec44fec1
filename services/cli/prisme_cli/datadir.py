"""The runner's data directory (DESIGN.md §5): infrastructure data, logs, keys, secrets.

Layout::

    <data-dir>/
      keys/platform.key    Ed25519 private key (PKCS#8 PEM, 0600) — signs every token
      keys/platform.pub    its public key (every service's PRISME_JWT_PUBLIC_KEY)
      admin-token          a long-lived admin token (0600)
      secrets/             generated shared secrets (0600), e.g. the Stripe webhook secret
      nats/                JetStream store          postgres/   PostgreSQL cluster
      services/<name>/     each service's PRISME_DATA_DIR
      logs/<name>.log      each process's stdout and stderr
      state.json           what runs now (read by `prisme status` and `prisme down`)
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from prisme_chassis.keys import generate_keypair, mint_token

ADMIN_TOKEN_TTL = timedelta(days=365)
ADMIN_SUB = "prisme-admin"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by its owner only (created 0600, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@dataclass(frozen=True)
class DataDir:
    root: Path

    @classmethod
    def at(cls, path: str | Path) -> DataDir:
        return cls(Path(path).expanduser().resolve())

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def private_key(self) -> Path:
        return self.keys / "platform.key"

    @property
    def public_key(self) -> Path:
        return self.keys / "platform.pub"

    @property
    def admin_token(self) -> Path:
        return self.root / "admin-token"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def nats(self) -> Path:
        return self.root / "nats"

    @property
    def postgres(self) -> Path:
        return self.root / "postgres"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def service_dir(self, name: str) -> Path:
        return self.root / "services" / name

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def prepare(self) -> None:
        for path in (self.root, self.keys, self.secrets, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.keys, 0o700)
        os.chmod(self.secrets, 0o700)

    # -- key material -------------------------------------------------------------------

    def ensure_keypair(self) -> str:
        """The platform public key PEM, generating the pair on first run."""
        if not self.private_key.exists():
            private_pem, public_pem = generate_keypair()
            write_private(self.private_key, private_pem)
            self.public_key.write_text(public_pem, encoding="utf-8")
        return self.public_key.read_text(encoding="utf-8")

    def read_private_key(self) -> str:
        if not self.private_key.exists():
            raise FileNotFoundError(
                f"no platform key in {self.keys}: run `prisme up --data-dir {self.root}` once"
            )
        return self.private_key.read_text(encoding="utf-8")

    def mint(
        self,
        *,
        sub: str,
        scopes: list[str],
        name: str | None = None,
        ttl: timedelta = timedelta(hours=12),
    ) -> str:
        return mint_token(self.read_private_key(), sub=sub, scopes=scopes, name=name, ttl=ttl)

    def ensure_admin_token(self) -> str:
        """A fresh long-lived admin token, written to ``admin-token`` (0600).

        Minted anew on every `prisme up` so it never expires under a long-lived data dir; old
        ones stay valid until their own expiry (the key is unchanged).
        """
        token = self.mint(sub=ADMIN_SUB, scopes=["admin"], name="prisme up", ttl=ADMIN_TOKEN_TTL)
        write_private(self.admin_token, token + "\n")
        return token

    def ensure_nats_passwords(self, users: list[str]) -> dict[str, str]:
        """One NATS password per user (plus ``admin``), generated once and kept 0600."""
        path = self.secrets / "nats-passwords.json"
        stored: dict[str, str] = {}
        if path.exists():
            stored = json.loads(path.read_text(encoding="utf-8"))
        wanted = [*users, "admin"]
        missing = [user for user in wanted if user not in stored]
        if missing:
            stored.update({user: secrets.token_urlsafe(24) for user in missing})
            write_private(path, json.dumps(stored, indent=2, sort_keys=True))
        return {user: stored[user] for user in wanted}

    @property
    def nats_config(self) -> Path:
        return self.secrets / "nats.conf"

    def ensure_secret(self, name: str, prefix: str = "") -> str:
        """A random secret stored under ``secrets/<name>`` (0600), generated once."""
        path = self.secrets / name
        if path.exists():
            value = path.read_text(encoding="utf-8").strip()
            if value:
                return value
        value = prefix + secrets.token_urlsafe(32)
        write_private(path, value)
        return value
