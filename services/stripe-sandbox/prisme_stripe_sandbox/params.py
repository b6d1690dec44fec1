"""Decoding of Stripe's form/query encoding (``a[b][0]=x``, ``a[]=x``) and typed access."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import StripeError, invalid, missing

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_TOKEN = re.compile(r"\[([^\[\]]*)\]")


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest flat ``key[sub]`` pairs into dicts; list indices stay as digit-keyed dicts.

    Lists are recognised lazily (``as_list``) so that ``metadata[0]=x`` stays a mapping.
    """
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        m = _KEY.match(raw_key)
        if m is None:
            raise invalid(
                f"Invalid parameter name: {raw_key}", code="parameter_invalid", param=raw_key
            )
        tokens = [m.group(1), *_TOKEN.findall(m.group(2))]
        cur = root
        for i, tok in enumerate(tokens):
            last = i == len(tokens) - 1
            if tok == "":
                tok = str(len(cur))
            if last:
                if isinstance(cur.get(tok), dict):
                    raise invalid(f"Conflicting values for {raw_key}", param=raw_key)
                cur[tok] = value
            else:
                nxt = cur.setdefault(tok, {})
                if not isinstance(nxt, dict):
                    if nxt == "":
                        nxt = cur[tok] = {}
                    else:
                        raise invalid(f"Conflicting values for {raw_key}", param=raw_key)
                cur = nxt
    return root


def as_list(value: Any, param: str) -> list[Any]:
    """A digit-keyed mapping (``x[0]``, ``x[]``) or an empty string as a list."""
    if value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(k.isdigit() for k in value):
        return [value[k] for k in sorted(value, key=int)]
    raise invalid(f"Invalid array for {param}", code="parameter_invalid", param=param)


def to_int(value: Any, param: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Invalid integer: {value}",
            code="parameter_invalid_integer",
            param=param,
        ) from None


def to_bool(value: Any, param: str) -> bool:
    if value in ("true", True):
        return True
    if value in ("false", False):
        return False
    raise invalid(f"Invalid boolean: {value}", code="parameter_invalid", param=param)


class Params:
    """Decoded request parameters with Stripe's validation messages."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __contains__(self, name: str) -> bool:
        return name in self.data

    def allow(
        self, *names: str, ignored: Iterable[str] = (), unmodelled: Iterable[str] = ()
    ) -> None:
        """Reject parameters outside ``names`` + ``ignored`` (always allowing ``expand``).

        ``unmodelled`` are Stripe parameters that would change amounts or flows the sandbox does
        not model: refused with a clear message rather than silently ignored.
        """
        allowed = {*names, *ignored, "expand"}
        for key in self.data:
            if key in unmodelled:
                raise invalid(
                    f"`{key}` is a Stripe parameter the PRISME Stripe sandbox does not model.",
                    code="parameter_unknown",
                    param=key,
                )
            if key not in allowed:
                raise invalid(
                    f"Received unknown parameter: {key}", code="parameter_unknown", param=key
                )

    def string(self, name: str, *, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise missing(f"Missing required param: {name}.", name)
            return None
        if not isinstance(value, str):
            raise invalid(f"Invalid string: {name}", code="parameter_invalid", param=name)
        return value

    def req(self, name: str) -> str:
        value = self.string(name, required=True)
        assert value is not None
        return value

    def integer(
        self, name: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                raise missing(f"Missing required param: {name}.", name)
            return None
        number = to_int(value, name)
        if minimum is not None and number < minimum:
            raise invalid(
                f"Invalid {name}: must be at least {minimum}",
                code="parameter_invalid_integer",
                param=name,
            )
        return number

    def decimal(self, name: str) -> Decimal | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            raise invalid(
                f"Invalid decimal: {value}", code="parameter_invalid", param=name
            ) from None

    def boolean(self, name: str) -> bool | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        return to_bool(value, name)

    def mapping(self, name: str) -> dict[str, Any] | None:
        value = self.data.get(name)
        if value is None:
            return None
        if value == "":
            return {}
        if not isinstance(value, dict):
            raise invalid(f"Invalid object: {name}", code="parameter_invalid", param=name)
        return value

    def array(self, name: str) -> list[Any] | None:
        value = self.data.get(name)
        if value is None:
            return None
        return as_list(value, name)

    def expand(self) -> list[str]:
        return [str(v) for v in (self.array("expand") or [])]


def merge_metadata(
    current: dict[str, str], update: Any, *, param: str = "metadata"
) -> dict[str, str]:
    """Stripe's metadata update: ``""`` clears everything, a key set to ``""`` is removed."""
    if update is None:
        return current
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise invalid("Invalid metadata", code="parameter_invalid", param=param)
    merged = dict(current)
    for key, value in update.items():
        if not isinstance(value, str):
            raise invalid(f"Invalid metadata value for {key}", param=f"{param}[{key}]")
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > 50:
        raise invalid("Metadata may have at most 50 keys", param=param)
    return merged
