"""R2 (DESIGN.md §8): schemathesis against a running service's OpenAPI document.

What ``schemathesis run <url>/openapi.json --checks all`` does, through its Python engine:
the examples, coverage, fuzzing and stateful phases (following the OpenAPI links), every
built-in check (no 5xx; status codes, content types, headers and bodies as documented; invalid
requests refused, schema-valid ones accepted; ``Allow`` on 405; ...). Runs in a thread: the
service under test runs in the test's event loop. Examples are bounded so a service's run
stays within seconds (the whole suite runs in 15 minutes).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from prisme_chassis.errors import PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.config._auth import AuthConfig
from schemathesis.core.transport import Response
from schemathesis.engine import Status, events, from_schema
from schemathesis.generation.case import Case
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    positive_data_acceptance,
    response_schema_conformance,
)

#: The chassis' operational routes, in every service's document: the same code everywhere,
#: fuzzed with every check on the demo service (a dead job among its rows) and the dashboard
#: (libs/chassis/tests/test_openapi_fuzz.py, services/dashboard/tests/test_api.py). A service's
#: own run may leave them out (``skip=CHASSIS_ROUTES``) to spend its time on its own routes.
CHASSIS_ROUTES = ("/v1/dead-letters", "/v1/outbox", "/v1/jobs", "/v1/audit", "/v1/clock")
#: One method no route declares: enough for the coverage phase to check every path's 405 and
#: its ``Allow`` (the chassis answers them, the same way whatever the method); schemathesis'
#: eight are sent on the demo service and the dashboard.
ONE_UNEXPECTED_METHOD = ("trace",)

#: Problems the framework itself answers to input it could not take: a schema-valid request
#: answered with one of these means the schema and the validation disagree (a real bug).
_VALIDATION_PROBLEMS = frozenset(
    PROBLEM_BASE + code
    for code in ("validation_error", "bad_request", "unprocessable", "invalid_value")
)


def _documented_rule(case: Case[Any], response: Response) -> bool:
    """The answer is one of the operation's own business rules, listed in its responses."""
    if not response.headers.get("content-type", [""])[0].startswith(PROBLEM_CONTENT_TYPE):
        return False
    try:
        kind = response.json().get("type")
    except ValueError:
        return False
    if not isinstance(kind, str) or kind in _VALIDATION_PROBLEMS:
        return False
    raw = case.operation.schema.raw_schema
    components = raw.get("components", {}).get("schemas", {})
    declared = case.operation.definition.raw.get("responses", {}).get(str(response.status_code))
    media = (declared or {}).get("content", {}).get(PROBLEM_CONTENT_TYPE, {})
    for ref in media.get("schema", {}).get("anyOf", []):
        component = components.get(str(ref.get("$ref", "")).rsplit("/", 1)[-1], {})
        if component.get("properties", {}).get("type", {}).get("const") == kind:
            return True
    return False


@schemathesis.check
def positive_data_acceptance_beyond_rules(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """``positive_data_acceptance``, except that a refusal by one of the operation's documented
    business rules (a ``Problem-<code>`` it lists: "not a video", "contract not active", an
    unknown cursor) answers valid data rather than rejecting it. A ``validation_error`` (the
    schema allowed what validation refuses) still fails."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if _documented_rule(case, response):
            return None
        raise


def _describe(event: events.ScenarioFinished) -> list[str]:
    found = []
    for case_id, checks in event.recorder.checks.items():
        for check in checks:
            if check.status != Status.FAILURE or check.failure_info is None:
                continue
            node = event.recorder.cases.get(case_id)
            case = node.value if node is not None else None
            where = f"{case.method} {case.formatted_path}" if case is not None else event.label
            failure = check.failure_info.failure
            title = getattr(failure, "title", type(failure).__name__)
            message = getattr(failure, "message", "")
            reproduce = check.failure_info.code_sample
            interaction = event.recorder.interactions.get(case_id)
            answer = ""
            if interaction is not None and interaction.response is not None:
                body = interaction.response.content or b""
                answer = f"\n  answered {interaction.response.status_code}: {body[:300]!r}"
            found.append(f"{where} [{check.name}] {title}: {message}{answer}\n  {reproduce}"[:2000])
    return found


def _fuzz_every_check(
    base_url: str,
    headers: Mapping[str, str],
    max_examples: int,
    skip: tuple[str, ...],
    phases: tuple[str, ...],
    unexpected_methods: tuple[str, ...] | None,
) -> list[str]:
    config = SchemathesisConfig()
    project = config.projects.override  # what the CLI options set
    others = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    project.update(base_url=base_url, headers=others, request_timeout=30)
    token = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if token is not None:
        # the token as the OpenAPI's bearer scheme, so ignored_auth can take it away
        scheme, _, value = token.partition(" ")
        assert scheme.lower() == "bearer", "fuzz_openapi takes a bearer token"
        project.auth = AuthConfig(openapi={"HTTPBearer": {"bearer": value}})
    project.phases.update(phases=list(phases))
    project.checks.update(
        included_check_names=["all"], excluded_check_names=["positive_data_acceptance"]
    )
    project.generation.update(max_examples=max_examples, database="none", deterministic=True)
    if unexpected_methods is not None:
        project.phases.coverage.unexpected_methods = set(unexpected_methods)
    schema: BaseSchema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=config)
    operations = [s for s in skip if " " in s]
    prefixes = [s for s in skip if " " not in s]
    if operations:
        schema = schema.exclude(name=operations)
    if prefixes:
        schema = schema.exclude(path_regex="^(" + "|".join(map(re.escape, prefixes)) + ")")
    failures: list[str] = []
    seen: set[str] = set()
    scenarios = 0
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            for failure in _describe(event):
                key = failure.split("\n", 1)[0]
                if key not in seen:
                    seen.add(key)
                    failures.append(failure)
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: error {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            failures.append(f"fatal: {event.exception}")
    if scenarios == 0:
        failures.append("no operation was checked")
    return failures


def _fuzz_basic(
    base_url: str, headers: Mapping[str, str], max_examples: int, skip: tuple[str, ...]
) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    failures: list[str] = []
    checked = 0
    for result in schema.get_all_operations():
        if not hasattr(result, "ok"):
            failures.append(f"invalid operation in the OpenAPI document: {result}")
            continue
        operation = result.ok()
        if operation.path.startswith(skip):
            continue
        checked += 1

        @given(case=operation.as_strategy())
        @hsettings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(base_url=base_url, headers=dict(headers))
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    if checked == 0:
        failures.append("no operation was checked")
    return failures


async def fuzz_openapi(
    base_url: str,
    headers: Mapping[str, str],
    *,
    max_examples: int = 10,
    skip: Iterable[str] = (),
    every_check: bool = False,
    phases: Iterable[str] = ("examples", "coverage", "fuzzing", "stateful"),
    unexpected_methods: Iterable[str] | None = None,
) -> list[str]:
    """Failures found (empty when the service holds); ``skip`` are path prefixes left out,
    or single operations (``"POST /items"``).

    ``every_check``: ``--checks all`` with the ``phases`` (issue #16, R2 for real); otherwise
    the round-one set (no 5xx, documented responses match their schema, generated requests).
    ``unexpected_methods``: the methods the coverage phase sends to every path that does not
    declare them (``unsupported_method``: a 405 with the path's ``Allow``); schemathesis' eight
    when not given.
    """
    url = base_url.rstrip("/")
    if every_check:
        methods = None if unexpected_methods is None else tuple(unexpected_methods)
        return await asyncio.to_thread(
            _fuzz_every_check, url, headers, max_examples, tuple(skip), tuple(phases), methods
        )
    return await asyncio.to_thread(_fuzz_basic, url, headers, max_examples, tuple(skip))
