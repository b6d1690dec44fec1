"""Input types whose schema is what their validation accepts (R2)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

import pytest
from prisme_chassis.wire import BodyBool, BodyInt, DecimalText, IsoDate, decimal_pattern
from pydantic import BaseModel, Field, ValidationError


class Payment(BaseModel):
    amount: Annotated[Decimal, Field(gt=0), DecimalText(maximum=1_000_000, positive=True)]
    fee: Annotated[Decimal, DecimalText(maximum=100)] = Decimal(0)
    on: IsoDate | None = None
    count: BodyInt = 1
    urgent: BodyBool = False


@pytest.mark.parametrize(
    ("text", "positive", "ok"),
    [
        ("0", False, True),
        ("0", True, False),
        ("0.00", True, False),
        ("0.01", True, True),
        ("0.10", True, True),
        ("3340.8", True, True),
        ("999999.99", True, True),
        ("1000000.00", True, True),
        ("1000000.01", True, False),
        ("1000001", False, False),
        ("01", False, False),
        ("1e3", False, False),
        ("-1", False, False),
        ("12.345", False, False),
        ("12.", False, False),
        ("", False, False),
    ],
)
def test_decimal_pattern_is_the_range(text: str, positive: bool, ok: bool) -> None:
    pattern = decimal_pattern(maximum=1_000_000, places=2, positive=positive)
    assert bool(re.search(pattern, text)) is ok


def test_the_schema_states_what_validation_refuses() -> None:
    schema = Payment.model_json_schema()["properties"]
    assert schema["amount"] == {
        "type": "string",
        "pattern": decimal_pattern(maximum=1_000_000, places=2, positive=True),
        "title": "Amount",
    }
    assert schema["on"]["anyOf"][0] == {"type": "string", "format": "date"}
    ok = Payment.model_validate(
        {"amount": "12.50", "fee": "0", "on": "2026-03-01", "count": 2.0, "urgent": True}
    )
    assert (ok.amount, ok.count, ok.on and ok.on.isoformat()) == (Decimal("12.50"), 2, "2026-03-01")
    for bad in (
        {"amount": 12.5},  # a JSON number: floating point cannot hold every amount
        {"amount": "0"},
        {"amount": "1e3"},
        {"amount": "1", "on": 0},  # not a Unix time
        {"amount": "1", "on": "0.5"},
        {"amount": "1", "on": "2026-03-01T00:00:00"},
        {"amount": "1", "count": False},
        {"amount": "1", "count": "2"},
        {"amount": "1", "urgent": 0},
        {"amount": "1", "urgent": "yes"},
    ):
        with pytest.raises(ValidationError):
            Payment.model_validate(bad)


def test_the_maximum_is_a_power_of_ten() -> None:
    with pytest.raises(ValueError, match="power of ten"):
        decimal_pattern(maximum=500, places=2, positive=False)
