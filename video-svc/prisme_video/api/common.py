"""What every route module shares: the problems a route answers, as OpenAPI entries."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


def status_problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the RFC 9457 problems a route may answer."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {"application/problem+json": {"schema": {"type": "object"}}},
        }
        for status in statuses
    }
