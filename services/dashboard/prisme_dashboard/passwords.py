"""Operators' passwords (DESIGN §7): Argon2id, at least 12 characters, not a common password.

No composition rules (NIST SP 800-63B §5.1.1.2): length and a block list only.  The block list
is Django's list of 20,000 common passwords (BSD licence), shipped in ``data/``.
"""

from __future__ import annotations

import gzip
import secrets
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
#: Argon2 would hash a megabyte happily; a cap keeps a sign-in request cheap.
MAX_LENGTH = 256

#: argon2-cffi's defaults are Argon2id with RFC 9106's low-memory profile.
_hasher = PasswordHasher()
#: Verified against when the account does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@cache
def common_passwords() -> frozenset[str]:
    data = resources.files("prisme_dashboard").joinpath("data/common-passwords.txt.gz")
    return frozenset(gzip.decompress(data.read_bytes()).decode("utf-8").split())


def policy_problems(password: str, *, email: str = "") -> list[str]:
    """Why ``password`` is refused (French, for the form), or ``[]`` when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Le mot de passe doit contenir au moins {MIN_LENGTH} caractères.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Le mot de passe ne doit pas dépasser {MAX_LENGTH} caractères.")
    lowered = password.lower()
    if lowered in common_passwords():
        problems.append("Ce mot de passe figure dans la liste des mots de passe courants.")
    local_part = email.split("@", 1)[0].lower()
    if email and (lowered == email.lower() or (len(local_part) >= 4 and local_part in lowered)):
        problems.append("Le mot de passe ne doit pas reprendre l'adresse e-mail.")
    return problems


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing hash costs the same time and fails."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def generate_initial_password() -> str:
    """A random one-time password (about 120 bits), changed at first sign-in."""
    return secrets.token_urlsafe(15)
