"""Keeps link tokens out of logs and traces (DESIGN §7): the token is in the viewer's URL path,
and access logs and server spans record paths. ``/v/<token>`` becomes ``/v/<redacted>``."""

from __future__ import annotations

import logging
import re
from typing import Any

from prisme_chassis import telemetry

_TOKEN_PATTERN = r"/v/[^/?#\s\"']+"  # noqa: S105 - a regex, not a secret
_TOKEN_PATH = re.compile(_TOKEN_PATTERN)
_REDACTED = "/v/<redacted>"


def redact(text: str) -> str:
    return _TOKEN_PATH.sub(_REDACTED, text)


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Rewrites any ``/v/<token>`` in a record's message, arguments and extra fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        for key, value in list(record.__dict__.items()):
            if isinstance(value, str) and "/v/" in value and key not in ("msg", "pathname"):
                record.__dict__[key] = redact(value)
        return True


_FILTER = RedactTokens()
_installed = False


def install() -> None:
    """On the root handlers, the uvicorn loggers and the server spans (idempotent)."""
    global _installed
    loggers = [
        logging.getLogger(),
        logging.getLogger("uvicorn.access"),
        logging.getLogger("uvicorn.error"),
    ]
    for logger in loggers:
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    if not _installed:
        telemetry.redact_url_paths(_TOKEN_PATTERN, _REDACTED)
        _installed = True
