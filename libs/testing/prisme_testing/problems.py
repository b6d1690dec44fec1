"""The catalogue of domain errors, checked against a service's code and OpenAPI document.

``assert_problem_catalogue(openapi, package_dir, errors)`` fails when:

- two problem classes of the service (or the chassis) share a ``code`` or a ``type``;
- the service's code raises a generic chassis class (``NotFound``, ``Conflict``…) instead of
  the class of the rule it enforces;
- a problem class the service raises is not in its catalogue, has no ``Problem-<code>``
  component, or is listed in no route's responses.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prisme_chassis.errors import DomainError, catalogue

GENERIC = frozenset(
    {
        "DomainError",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "Conflict",
        "Gone",
        "PayloadTooLarge",
        "UnsupportedMediaType",
        "Unprocessable",
        "TooManyRequests",
    }
)


def raised_names(package_dir: Path) -> dict[str, list[str]]:
    """Class names raised in the package (``raise X(...)``, ``raise errors.X(...)``)."""
    found: dict[str, list[str]] = {}
    for path in sorted(package_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name):
                name = target.id
            elif isinstance(target, ast.Attribute):
                name = target.attr
            else:
                continue
            found.setdefault(name, []).append(f"{path.name}:{node.lineno}")
    return found


def _declared_in_routes(openapi: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    for ref in media.get("schema", {}).get("anyOf", []):
                        names.add(str(ref.get("$ref", "")).rsplit("/", 1)[-1])
    return names


def assert_problem_catalogue(
    openapi: dict[str, Any], package_dir: Path, errors: Sequence[type[DomainError]]
) -> None:
    package = package_dir.name
    # Unique within what one service answers: the chassis' problems and its own (two services
    # may name the same rule, e.g. ``self-approval``).
    everything = [
        e
        for e in catalogue()
        if e.__module__.split(".")[0] in (package, "prisme_chassis") or e in errors
    ]
    codes = Counter(e.code for e in everything)
    assert [c for c, n in codes.items() if n > 1] == [], "problem codes must be unique"
    types = Counter(e.problem_type() for e in everything)
    assert [t for t, n in types.items() if n > 1] == [], "problem types must be unique"

    raised = raised_names(package_dir)
    generic = {name: where for name, where in raised.items() if name in GENERIC}
    assert generic == {}, f"raise the rule's own problem class, not a generic one: {generic}"

    by_name = {e.__name__: e for e in errors}
    problem_names = {n for n in raised if n in {e.__name__ for e in everything}}
    missing = sorted(problem_names - set(by_name))
    assert missing == [], f"raised but not in the service's catalogue: {missing}"

    components = openapi.get("components", {}).get("schemas", {})
    in_routes = _declared_in_routes(openapi)
    for name in sorted(problem_names):
        error = by_name[name]
        component = components.get(error.schema_name())
        assert component is not None, f"{name}: no {error.schema_name()} in the OpenAPI"
        assert component["properties"]["type"]["const"] == error.problem_type()
        assert error.schema_name() in in_routes, f"{name} is listed in no route's responses"
