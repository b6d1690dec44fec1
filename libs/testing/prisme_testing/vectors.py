"""The billing reference vectors (``shared/vectors/billing.csv``), found relative to the checkout.

The file sits beside the checkout (``../shared/vectors/billing.csv`` from the repository root);
a git worktree of the checkout one level further down finds it the same way. Tests read it,
never copy its numbers.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

RELATIVE = Path("shared") / "vectors" / "billing.csv"


def repository_root(start: Path | None = None) -> Path:
    """The checkout holding this package (the directory with ``uv.lock``)."""
    here = (start or Path(__file__)).resolve()
    for parent in here.parents:
        if (parent / "uv.lock").exists() and (parent / "pyproject.toml").exists():
            return parent
    raise FileNotFoundError(f"no checkout (uv.lock) above {here}")


def vectors_path() -> Path:
    """``<checkout>/../shared/vectors/billing.csv`` (or further up, for a worktree)."""
    root = repository_root()
    for ancestor in root.parents:
        candidate = ancestor / RELATIVE
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"../{RELATIVE} not found beside the checkout {root}")


@functools.cache
def _rows() -> tuple[dict[str, str], ...]:
    with vectors_path().open(encoding="utf-8", newline="") as fh:
        return tuple(csv.DictReader(fh))


def billing_vectors() -> list[dict[str, str]]:
    """Every row of billing.csv, as text (a fresh list; the rows are shared)."""
    return list(_rows())
