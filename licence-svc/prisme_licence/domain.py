"""Pure licence rules: login names, initial passwords, retry delays, carry-over (L1-L4).

No I/O here; the service layer feeds these functions plain values.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from collections.abc import Iterable

MICROSOFT_365 = "microsoft_365"  # catalogue item that brings a licence (C1)
DEFAULT_SKU = "O365_BUSINESS"  # Microsoft 365 Apps for business: Word, Excel, PowerPoint, Outlook
UPN_LOCAL_MAX = 64  # Graph limit on the part before "@"

_ALLOWED = re.compile(r"[^a-z0-9-]")


def includes_microsoft_365(includes: Iterable[str]) -> bool:
    """True when an offer's catalogue items bring Microsoft 365 (C1, L1)."""
    return MICROSOFT_365 in set(includes)


def ascii_slug(text: str) -> str:
    """Lower-case ASCII with accents, spaces, apostrophes and other marks removed.

    Hyphens inside compound names are kept ("Jean-Marc"), because Graph accepts them and
    people recognise their own name.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Ligatures and letters NFKD does not split.
    stripped = stripped.replace("œ", "oe").replace("Œ", "oe").replace("æ", "ae").replace("Æ", "ae")
    stripped = stripped.replace("ß", "ss").replace("ø", "o").replace("Ø", "o").replace("ł", "l")
    slug = _ALLOWED.sub("", stripped.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-")
    return slug


def upn_local_part(first_name: str, last_name: str) -> str:
    """``prenom.nom`` from a user's names (L1); ``utilisateur`` when nothing usable is left."""
    parts = [p for p in (ascii_slug(first_name), ascii_slug(last_name)) if p]
    local = ".".join(parts) or "utilisateur"
    return local[:UPN_LOCAL_MAX].rstrip(".-")


def unique_upn(first_name: str, last_name: str, domain: str, taken: Iterable[str]) -> str:
    """The first free login ``prenom.nom@domain``, then ``prenom.nom2@domain``, ``3``, …

    ``taken`` is compared case-insensitively, as Graph does for userPrincipalName.
    """
    used = {t.lower() for t in taken}
    base = upn_local_part(first_name, last_name)
    domain = domain.lower().lstrip("@")
    n = 1
    while True:
        suffix = "" if n == 1 else str(n)
        candidate = f"{base[: UPN_LOCAL_MAX - len(suffix)]}{suffix}@{domain}"
        if candidate not in used:
            return candidate
        n += 1


_SYMBOLS = "!#%+-=?@"


def initial_password(length: int = 16) -> str:
    """A random initial password meeting Microsoft's complexity rule (L1).

    Upper, lower, digit and symbol are all present; every character comes from a CSPRNG.
    """
    if length < 12:
        raise ValueError("initial passwords are at least 12 characters")
    alphabet = string.ascii_letters + string.digits + _SYMBOLS
    required = [
        secrets.choice(string.ascii_uppercase),
        secrets.choice(string.ascii_lowercase),
        secrets.choice(string.digits),
        secrets.choice(_SYMBOLS),
    ]
    rest = [secrets.choice(alphabet) for _ in range(length - len(required))]
    chars = required + rest
    # Fisher-Yates with the CSPRNG so the required classes are not always first.
    for i in range(len(chars) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def backoff_seconds(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential back-off for 5xx and network errors (L4): base × 2^(attempt-1), capped."""
    if attempt < 1:
        return 0.0
    return float(min(cap, base * (2 ** min(attempt - 1, 30))))


def retry_after_seconds(header: str | None, default: float = 1.0) -> float:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds form, as Graph sends)."""
    if header is None:
        return default
    try:
        return max(0.0, float(header.strip()))
    except ValueError:
        return default


def carries_over(renewal_contract_id: object | None, renewal_includes: Iterable[str]) -> bool:
    """L3: accounts survive a contract's end when next year's contract brings Microsoft 365."""
    return renewal_contract_id is not None and includes_microsoft_365(renewal_includes)


PROVISION_STEPS = ("lookup", "create", "assign", "done")
# L3 order, enforced one step per round per account: disable, revoke, unlicense, delete.
REVOKE_STEPS = ("disable", "revoke_sessions", "unlicense", "delete", "done")


# Why a Graph job ended ``failed`` (the ``reason`` of ``licence.failed``), in the operators' words.
FAILURE_REASONS = {
    "sku_not_found": "licence inconnue du tenant",
    "credential_lost": "mot de passe initial perdu",
    "graph_refused": "refus de Microsoft Graph",
    "graph_unavailable": "Microsoft Graph indisponible",
    "bug": "erreur interne de licence-svc",
}
_OPERATIONS = {"provision": "la création du compte", "revoke": "le retrait du compte"}


def failure_alert(operation: str, reason: str) -> str:
    """The alert an operator reads on a failed account; the reason code stays, for integrators.

    >>> failure_alert("provision", "graph_unavailable")
    'Échec de la création du compte : Microsoft Graph indisponible (graph_unavailable)'
    """
    what = _OPERATIONS.get(operation, "l'opération Microsoft 365")
    return f"Échec de {what} : {FAILURE_REASONS.get(reason, reason)} ({reason})"


def no_seat_alert(sku: str, tenant: str) -> str:
    """The alert of an account waiting for a free licence (L2); it is rechecked until one frees."""
    return f"Aucune licence {sku} libre dans le tenant {tenant} : le compte attend qu'une se libère"
