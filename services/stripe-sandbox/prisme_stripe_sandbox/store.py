"""In-memory object store: ids, lookup, Stripe list pagination and ``expand``."""

from __future__ import annotations

import copy
import secrets
import string
import time
from collections.abc import Callable, Iterable
from typing import Any

from .errors import invalid, not_found
from .params import Params

Obj = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def now() -> int:
    return int(time.time())


def random_token(length: int = 24) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class Store:
    """Every Stripe object of the sandbox account, keyed by id, in creation order."""

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        # Sandbox-only facts about objects (e.g. how a test card behaves), never rendered.
        self.private: dict[str, Obj] = {}

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{random_token()}"

    def add(self, obj: Obj) -> Obj:
        self.objects[obj["id"]] = obj
        return obj

    def find(self, obj_id: str) -> Obj | None:
        return self.objects.get(obj_id)

    def get(self, kind: str, obj_id: str, *, param: str = "id") -> Obj:
        """The object of type ``kind`` with that id, or Stripe's 404 ``resource_missing``."""
        obj = self.objects.get(obj_id)
        if obj is None or obj.get("object") != kind:
            raise not_found(kind, obj_id, param=param)
        return obj

    def all(self, kind: str, where: Callable[[Obj], bool] | None = None) -> list[Obj]:
        """Objects of a type, newest first (Stripe's list order)."""
        found = [o for o in self.objects.values() if o.get("object") == kind]
        if where is not None:
            found = [o for o in found if where(o)]
        found.reverse()
        return found

    def render(self, obj: Obj, expand: Iterable[str] = ()) -> Obj:
        """A copy of ``obj`` with the ``expand`` paths replaced by the objects they name."""
        out = copy.deepcopy(obj)
        for path in expand:
            self._expand(out, path.split("."))
        return out

    def _expand(self, node: Any, parts: list[str]) -> None:
        if not parts or not isinstance(node, dict):
            return
        key, rest = parts[0], parts[1:]
        value = node.get(key)
        if isinstance(value, list):
            for item in value:
                if rest:
                    self._expand(item, rest)
            return
        if isinstance(value, str) and value in self.objects:
            value = node[key] = copy.deepcopy(self.objects[value])
        if rest:
            self._expand(value, rest)

    def page(self, items: list[Obj], params: Params, url: str) -> Obj:
        """Stripe's list envelope with ``limit``, ``starting_after`` and ``ending_before``."""
        limit = params.integer("limit") or 10
        if not 1 <= limit <= 100:
            raise invalid(
                "Invalid limit: must be between 1 and 100",
                code="parameter_invalid_integer",
                param="limit",
            )
        after = params.string("starting_after")
        before = params.string("ending_before")
        ids = [o["id"] for o in items]
        if after is not None:
            if after not in ids:
                raise not_found("object", after, param="starting_after")
            chunk = items[ids.index(after) + 1 :]
            data, has_more = chunk[:limit], len(chunk) > limit
        elif before is not None:
            if before not in ids:
                raise not_found("object", before, param="ending_before")
            chunk = items[: ids.index(before)]
            data, has_more = chunk[-limit:], len(chunk) > limit
        else:
            data, has_more = items[:limit], len(items) > limit
        expand = [e.removeprefix("data.") for e in params.expand() if e.startswith("data.")]
        return {
            "object": "list",
            "data": [self.render(o, expand) for o in data],
            "has_more": has_more,
            "url": url,
        }


def created_filter(params: Params, name: str = "created") -> Callable[[Obj], bool]:
    """Stripe's ``created`` / ``created[gte]`` ... range filter."""
    raw = params.data.get(name)
    if raw is None:
        return lambda _o: True
    if isinstance(raw, str):
        exact = params.integer(name)
        return lambda o: o[name] == exact
    bounds: dict[str, int] = {}
    for op in ("gt", "gte", "lt", "lte"):
        if op in raw:
            bounds[op] = Params(raw).integer(op) or 0

    def keep(o: Obj) -> bool:
        v = int(o[name])
        return (
            ("gt" not in bounds or v > bounds["gt"])
            and ("gte" not in bounds or v >= bounds["gte"])
            and ("lt" not in bounds or v < bounds["lt"])
            and ("lte" not in bounds or v <= bounds["lte"])
        )

    return keep
