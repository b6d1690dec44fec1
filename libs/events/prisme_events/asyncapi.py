"""Generate the AsyncAPI 3 document of the catalogue; ``python -m prisme_events.asyncapi``
rewrites the checked-in ``libs/events/asyncapi.json`` (a test fails when it is stale)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .base import event_types
from .streams import STREAMS, stream_for

DOCUMENT = Path(__file__).resolve().parent.parent / "asyncapi.json"

_HEADERS = {
    "type": "object",
    "required": ["ce-specversion", "ce-id", "ce-type", "ce-source", "ce-subject", "ce-time"],
    "properties": {
        "ce-specversion": {"type": "string", "const": "1.0"},
        "ce-id": {"type": "string", "format": "uuid", "description": "Event id; also Nats-Msg-Id"},
        "ce-type": {"type": "string", "description": "The subject, e.g. contract.ended"},
        "ce-source": {"type": "string", "description": "The producing service"},
        "ce-subject": {"type": "string", "description": "The aggregate id"},
        "ce-time": {"type": "string", "format": "date-time"},
        "ce-dataschema": {"type": "string"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
        "Nats-Msg-Id": {"type": "string"},
    },
}


def _key(subject: str) -> str:
    return subject.replace(".", "_")


def build() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for subject, cls in event_types().items():
        key = _key(subject)
        schema = cls.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[cls.__name__] = schema
        messages[key] = {
            "name": cls.__name__,
            "title": subject,
            "summary": (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": f"#/components/schemas/{cls.__name__}"},
            "x-schema-version": cls.schema_version,
        }
        channels[key] = {
            "address": subject,
            "description": f"Stream {stream_for(subject).name}",
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{cls.source} publishes {subject}",
            "x-source": cls.source,
        }
    schemas["CloudEventHeaders"] = _HEADERS
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "PRISME platform events",
            "version": "1.0.0",
            "description": "Integration events on NATS JetStream. Streams: "
            + ", ".join(f"{s.name} ({', '.join(s.subjects)})" for s in STREAMS)
            + ". Envelope: CloudEvents 1.0 binary mode in NATS headers.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "127.0.0.1:4222", "protocol": "nats", "description": "prisme up"}
        },
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {
            "messages": dict(sorted(messages.items())),
            "schemas": dict(sorted(schemas.items())),
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def main() -> None:
    DOCUMENT.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOCUMENT}\n")


if __name__ == "__main__":
    main()
