"""What the operations pages share: the services as the visit's operator, refusals shown on
the form that caused them, operators' names for the subs the services record."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

import asyncpg
from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile

from ..clients import Json, ServiceProblem, Services
from .deps import SignedIn, Visit, services_for

T = TypeVar("T")


def _services(request: Request, visit: SignedIn) -> Services:
    return services_for(request, visit)


#: the services, called as the signed-in operator
Svc = Annotated[Services, Depends(_services)]


@dataclass
class Refusal:
    """A service's refusal, as a form shows it: messages at the top and beside each field."""

    errors: list[str] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, problem: ServiceProblem) -> Refusal:
        return cls(errors=problem.general_errors(), fields=problem.field_errors())

    def __bool__(self) -> bool:
        return bool(self.errors or self.fields)


#: the default of an ``optional`` page read: no rows, no next page
NO_PAGE: Json = {"items": [], "next_cursor": None}


async def optional(call: Awaitable[T], default: T) -> tuple[T, str | None]:
    """A part of a page the operator may not be allowed to read (403) or whose service is
    down: the default and a French note instead of failing the whole page."""
    try:
        return await call, None
    except ServiceProblem as problem:
        if problem.status in (401, 403):
            return default, "Vos droits ne permettent pas de voir cette partie."
        if problem.status >= 500:
            return default, problem.message
        raise


def form_values(form: FormData) -> dict[str, str]:
    """The text fields of a posted form (to put them back in the form after a refusal)."""
    return {
        key: value
        for key, value in form.multi_items()
        if isinstance(value, str) and key != "csrf_token"
    }


def text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def whole(form: FormData, key: str) -> int | str:
    """A whole number typed in a field, as a JSON integer (the services take no "3" for 3);
    anything else as typed, for the service to refuse beside the field."""
    value = text(form, key)
    return int(value) if re.fullmatch(r"[+-]?[0-9]{1,18}", value) else value


def upload(form: FormData, key: str) -> UploadFile | None:
    value = form.get(key)
    return value if isinstance(value, UploadFile) and value.filename else None


async def operator_names(conn: asyncpg.Connection, subs: Iterable[str]) -> dict[str, str]:
    """The names of the operators behind the subs a service recorded (unknown: left out)."""
    ids = []
    for sub in set(subs):
        try:
            ids.append(uuid.UUID(sub))
        except (TypeError, ValueError):
            continue
    if not ids:
        return {}
    rows = await conn.fetch("SELECT id, name FROM operators WHERE id = ANY($1::uuid[])", ids)
    return {str(r["id"]): str(r["name"]) for r in rows}


def is_me(visit: Visit, sub: str | None) -> bool:
    return sub == str(visit.operator.id)


def has_scope(visit: Visit, scope: str) -> bool:
    scopes = visit.operator.scopes
    return "admin" in scopes or scope in scopes
