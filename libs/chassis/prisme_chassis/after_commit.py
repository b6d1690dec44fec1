"""Callbacks run once a transaction has committed (none if it rolls back).

The bus consumer opens a scope around the transaction of a fetched batch; code running in it
(the job queue handing the jobs it just enqueued to the local worker) registers what must
happen only once the rows are committed. Outside a scope :func:`current` is None and callers
fall back to what needs no commit hook (a NOTIFY, sent by PostgreSQL at commit).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

Hook = Callable[[], None]

_HOOKS: ContextVar[list[Hook] | None] = ContextVar("prisme_after_commit", default=None)


@contextlib.contextmanager
def scope() -> Iterator[list[Hook]]:
    """Collect the hooks registered inside; the caller runs them after its commit succeeded
    and drops them otherwise."""
    hooks: list[Hook] = []
    token = _HOOKS.set(hooks)
    try:
        yield hooks
    finally:
        _HOOKS.reset(token)


def current() -> list[Hook] | None:
    """The hooks of the enclosing scope, or None outside one."""
    return _HOOKS.get()
