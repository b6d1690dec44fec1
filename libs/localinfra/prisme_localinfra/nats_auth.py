"""Per-service NATS users (DESIGN.md §7): each service may publish only its own subjects.

Every service user may use the JetStream API, ack messages, receive on its inboxes and write
dead letters; only the owner of a stream may publish that stream's subjects. ``render_config``
writes a nats-server configuration (``authorization`` block) for the embedded runner and tests;
deploy/ holds the same rules for a cluster.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

from prisme_events import STREAMS

#: every service also records when an integration token was last used (a KV bucket of
#: prisme_chassis.revocations)
COMMON_PUBLISH = [
    "$JS.API.>",
    "$JS.ACK.>",
    "$JS.FC.>",
    "_INBOX.>",
    "deadletter.>",
    "$KV.prisme-token-usage.>",
]
COMMON_SUBSCRIBE = ["_INBOX.>", "$JS.>"]
#: what one user alone may write: the dashboard revokes integration tokens (DESIGN §7)
OWN_WRITES = {"dashboard": ["$KV.prisme-revocations.>"]}


def owned_subjects(service: str) -> list[str]:
    return [subject for spec in STREAMS if spec.owner == service for subject in spec.subjects]


def service_permissions(service: str) -> dict[str, dict[str, list[str]]]:
    return {
        "publish": {
            "allow": [*owned_subjects(service), *COMMON_PUBLISH, *OWN_WRITES.get(service, [])]
        },
        "subscribe": {"allow": COMMON_SUBSCRIBE},
    }


def generate_passwords(services: list[str]) -> dict[str, str]:
    return {name: secrets.token_urlsafe(24) for name in [*services, "admin"]}


def render_config(passwords: Mapping[str, str]) -> str:
    """nats-server config text: one user per service, plus ``admin`` (tools, tests) allowed all."""
    users = []
    for name, password in sorted(passwords.items()):
        entry: dict[str, object] = {"user": name, "password": password}
        if name != "admin":
            entry["permissions"] = service_permissions(name)
        users.append(entry)
    # JSON is valid nats-server configuration syntax.
    return "authorization: " + json.dumps({"users": users}, indent=2) + "\n"


def url_with_credentials(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"
