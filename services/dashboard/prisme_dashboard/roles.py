"""Operators' roles and the API scopes each one grants (O1): the one role → scope table.

The README prints this table; a test keeps the two in step.  ``admin`` grants every scope in
every service (the chassis treats the ``admin`` scope as a wildcard).  Approving (four eyes,
O2), revealing Microsoft 365 initial passwords and downloading a backup export are scopes of
their own, apart from writing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

Role = Literal["admin", "technician", "accountant"]
ROLES: Final[tuple[Role, ...]] = ("admin", "technician", "accountant")

#: French labels shown on the pages.
ROLE_LABELS: Final[dict[str, str]] = {
    "admin": "Administrateur",
    "technician": "Technicien",
    "accountant": "Comptable",
}

ROLE_SCOPES: Final[dict[str, tuple[str, ...]]] = {
    "admin": ("admin",),
    "technician": (
        "contracts:read",
        "contracts:write",
        "licences:read",
        "licences:write",
        "licences:credentials",
        "videos:read",
        "videos:write",
        "backups:read",
        "backups:write",
        "backups:export",
        # a practice's page shows its invoices (reading only; billing:write stays accountants')
        "billing:read",
    ),
    "accountant": (
        "contracts:read",
        "contracts:approve",
        "billing:read",
        "billing:write",
        "billing:approve",
    ),
}

#: Every scope an integration token may carry.
ALL_SCOPES: Final[tuple[str, ...]] = tuple(
    sorted({scope for scopes in ROLE_SCOPES.values() for scope in scopes})
)


def scopes_for(roles: Iterable[str]) -> list[str]:
    """The scopes of ``roles`` (sorted, without duplicates); unknown roles grant nothing."""
    return sorted({scope for role in roles for scope in ROLE_SCOPES.get(role, ())})


def is_role(value: str) -> bool:
    return value in ROLE_SCOPES


def markdown_table() -> str:
    """The matrix as the README's Markdown table (role, label, scopes)."""
    lines = ["| role | libellé | scopes |", "|---|---|---|"]
    for role in ROLES:
        scopes = " ".join(f"`{s}`" for s in ROLE_SCOPES[role])
        lines.append(f"| `{role}` | {ROLE_LABELS[role]} | {scopes} |")
    return "\n".join(lines)
