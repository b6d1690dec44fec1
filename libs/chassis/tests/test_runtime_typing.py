"""``runtime_dependency``: routes receive the runtime typed, and a miswired app is caught."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi import FastAPI, Request
from prisme_chassis.app import Resources, Runtime, ServiceSpec, runtime_dependency
from prisme_chassis.settings import ServiceSettings


class ASettings(ServiceSettings):
    flag: bool = True


@dataclass(frozen=True)
class AContext:
    name: str


@dataclass(frozen=True)
class OtherContext:
    name: str


async def _context(resources: Resources[ASettings]) -> AContext:
    return AContext(name="a")


def _request(rt: Runtime[Any, Any]) -> Request:
    app = FastAPI()
    app.state.runtime = rt
    return Request({"type": "http", "app": app})


def _runtime(context: object, settings: ServiceSettings) -> Runtime[Any, Any]:
    spec = ServiceSpec(name="a-svc", migrations=Path("."), context=_context)
    nothing = cast(Any, SimpleNamespace())
    return Runtime(
        spec=spec, settings=settings, pool=nothing, nc=nothing, js=nothing, context=context
    )


def test_gives_the_typed_runtime(base_settings: dict[str, Any]) -> None:
    rt = _runtime(AContext(name="a"), ASettings(**base_settings))
    got = runtime_dependency(ASettings, AContext)(_request(rt))
    assert got is rt
    assert got.context.name == "a"
    assert got.settings.flag is True


def test_refuses_an_app_built_with_other_types(base_settings: dict[str, Any]) -> None:
    wrong_context = _runtime(OtherContext(name="o"), ASettings(**base_settings))
    with pytest.raises(TypeError, match="OtherContext"):
        runtime_dependency(ASettings, AContext)(_request(wrong_context))
    wrong_settings = _runtime(AContext(name="a"), ServiceSettings(**base_settings))
    with pytest.raises(TypeError, match="ServiceSettings"):
        runtime_dependency(ASettings, AContext)(_request(wrong_settings))
