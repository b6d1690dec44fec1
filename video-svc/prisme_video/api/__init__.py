"""HTTP routes of video-svc (DESIGN §4) with their request/response schemas, one module per use
case: the operators' routes (bearer token) and the public viewer."""

from __future__ import annotations

from fastapi import APIRouter

from . import access_log, comments, links, player, recordings, viewer, year_end

#: one router per use case, in the order of the OpenAPI document
routers: list[APIRouter] = [
    recordings.router,
    player.router,
    comments.router,
    links.router,
    year_end.router,
    access_log.router,
]
#: without a token: ``/v/{token}`` in French, for the practice's staff
public_routers: list[APIRouter] = [viewer.router]
