"""DomainError → RFC 9457 members."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal

import pytest
from prisme_chassis.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
)


@pytest.mark.parametrize(
    ("cls", "status", "code"),
    [
        (DomainError, 400, "bad_request"),
        (Unauthorized, 401, "unauthorized"),
        (Forbidden, 403, "forbidden"),
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
        (Gone, 410, "gone"),
        (PayloadTooLarge, 413, "payload_too_large"),
        (UnsupportedMediaType, 415, "unsupported_media_type"),
        (Unprocessable, 422, "unprocessable"),
        (TooManyRequests, 429, "too_many_requests"),
    ],
)
def test_problem_members(cls: type[DomainError], status: int, code: str) -> None:
    problem = cls("what went wrong").to_problem("/v1/things/1")
    assert problem == {
        "type": f"https://prisme.example/problems/{code}",
        "title": cls.title,
        "status": status,
        "detail": "what went wrong",
        "instance": "/v1/things/1",
    }
    assert cls.title


def test_detail_defaults_to_title() -> None:
    problem = NotFound().to_problem("/x")
    assert problem["detail"] == "Not found"
    assert str(NotFound()) == "Not found"


def test_extras_become_json_extension_members() -> None:
    contract_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    err = Unprocessable(
        "not eligible",
        contract_id=contract_id,
        amount=Decimal("3340.80"),
        day=date(2026, 3, 15),
        failures=[{"criterion": "C3.postal_code", "detail": "97100 is not 974xx"}],
    )
    problem = err.to_problem("/v1/contracts/1/activate")
    assert problem["contract_id"] == str(contract_id)
    assert problem["amount"] == "3340.80"
    assert problem["day"] == "2026-03-15"
    assert problem["failures"][0]["criterion"] == "C3.postal_code"
    json.dumps(problem)


def test_non_serialisable_extra_fails_at_raise_site() -> None:
    with pytest.raises(TypeError, match="JSON-serialisable"):
        Conflict("x", handle=object())


@pytest.mark.parametrize("member", ["type", "title", "status", "instance"])
def test_reserved_members_cannot_be_overridden(member: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        DomainError("x", **{member: "forged"})


def test_too_many_requests_retry_after() -> None:
    err = TooManyRequests("slow down", retry_after=2.2)
    assert err.headers() == {"Retry-After": "3"}
    assert err.to_problem("/v/t")["retry_after"] == 3
    assert TooManyRequests().headers() == {}
    assert "retry_after" not in TooManyRequests().to_problem("/v/t")


def test_unauthorized_challenge_header() -> None:
    assert Unauthorized().headers() == {"WWW-Authenticate": 'Bearer realm="prisme"'}
    assert Unauthorized("bad", error="invalid_token").headers() == {
        "WWW-Authenticate": 'Bearer realm="prisme", error="invalid_token"'
    }


def test_subclass_pattern_for_services() -> None:
    class NotEligible(Unprocessable):
        code = "not_eligible"
        title = "Client not eligible"

    problem = NotEligible(failures=[]).to_problem("/a")
    assert problem["type"].endswith("/not_eligible")
    assert problem["status"] == 422
    assert problem["failures"] == []
    assert isinstance(NotEligible(), DomainError)
