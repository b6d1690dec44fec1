"""Input types whose OpenAPI schema states exactly what their validation accepts (R2).

pydantic's lax mode reads more than a schema says: ``0`` or ``"0.5"`` as a date (Unix time),
``"1e3"``, ``" 12 "`` or a JSON number as a ``Decimal``. schemathesis then finds a request the
schema forbids accepted, or one it allows refused. These types refuse, before pydantic, what
their schema does not describe, and describe it with a pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date_text(value: object) -> object:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("give the date as YYYY-MM-DD")
    return value


#: A calendar day, spelled ``YYYY-MM-DD`` only (RFC 3339 full-date).
IsoDate = Annotated[
    date,
    BeforeValidator(_date_text),
    WithJsonSchema({"type": "string", "format": "date"}),
]


def rfc3339_text(value: object) -> object:
    """A ``BeforeValidator``: refuses a text that is not an RFC 3339 date-time."""
    # pydantic also reads "0.5" as a Unix time; the schema says date-time (RFC 3339) only
    if isinstance(value, str) and not _DATE.match(value):
        raise ValueError("expected an RFC 3339 date-time")
    return value


#: An instant with its offset, spelled as RFC 3339 (``2026-03-01T08:00:00+04:00``) only.
IsoDatetime = Annotated[AwareDatetime, BeforeValidator(rfc3339_text)]


def _json_integer(value: object) -> object:
    # JSON Schema's integer is a number without a fraction (12 or 12.0), never true or "12"
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected an integer")
    return value


def _json_boolean(value: object) -> object:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


#: An integer of a JSON body: pydantic alone would also take ``false`` or ``"12"``.
BodyInt = Annotated[int, BeforeValidator(_json_integer)]
#: A boolean of a JSON body: pydantic alone would also take ``0``, ``"yes"`` or ``"off"``.
BodyBool = Annotated[bool, BeforeValidator(_json_boolean)]


def decimal_pattern(*, maximum: int, places: int, positive: bool) -> str:
    """The decimal strings from 0 (above 0 when ``positive``) to ``maximum`` (a power of
    ten), with at most ``places`` decimals and no leading zero: ``"0.50"``, ``"3340.8"``."""
    digits = len(str(maximum)) - 1
    if maximum < 10 or str(maximum) != "1" + "0" * digits or places < 1:
        raise ValueError("maximum is a power of ten (10 or more), places at least 1")
    fraction = rf"(\.[0-9]{{1,{places}}})?"
    whole = rf"[1-9][0-9]{{0,{digits - 1}}}{fraction}"
    if positive:
        # 0.x with at least one non-zero decimal, without look-ahead (not every engine has it)
        cents = "|".join(
            "0" * k + "[1-9]" + (f"[0-9]{{0,{places - 1 - k}}}" if k < places - 1 else "")
            for k in range(places)
        )
        small = rf"0\.({cents})"
    else:
        small = rf"0{fraction}"
    return rf"^({maximum}(\.0{{1,{places}}})?|{whole}|{small})$"


@dataclass(frozen=True)
class DecimalText:
    """``Annotated[Decimal, Field(...), DecimalText(maximum=...)]``: a ``Decimal`` spelled as a
    JSON string (DESIGN §4: money as decimal strings), from 0 (above 0 when ``positive``) to
    ``maximum``, ``places`` decimals at most. A JSON number is refused: binary floating point
    cannot hold 0.10."""

    maximum: int
    places: int = 2
    positive: bool = False

    @property
    def pattern(self) -> str:
        return decimal_pattern(maximum=self.maximum, places=self.places, positive=self.positive)

    def _check(self, value: object) -> object:
        if isinstance(value, Decimal):
            return value
        # re.search, as a JSON Schema validator matches "pattern"
        if not isinstance(value, str) or not re.search(self.pattern, value):
            above = "above " if self.positive else ""
            raise ValueError(
                f"give a decimal string from {above}0 to {self.maximum} with at most"
                f' {self.places} decimals, e.g. "12.50"'
            )
        return Decimal(value.strip())

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": self.pattern}
