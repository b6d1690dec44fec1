"""FastAPI dependencies shared by the resource routers."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from .params import Params, decode
from .sandbox import Sandbox


async def get_sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


async def get_params(request: Request) -> Params:
    """Query string and form body, decoded from Stripe's bracket notation."""
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method in ("POST", "PUT", "PATCH"):
        body = (await request.body()).decode()
        pairs += parse_qsl(body, keep_blank_values=True)
    return Params(decode(pairs))


SandboxDep = Annotated[Sandbox, Depends(get_sandbox)]
ParamsDep = Annotated[Params, Depends(get_params)]
JSON = dict[str, Any]
