"""Per-service NATS users with least privilege (DESIGN.md §7), from the event catalogue.

Each service's user may only:

- publish its own stream's subjects (and read the acknowledgements, on its own inbox);
- fetch from and ack its own durable consumers (``$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>``,
  ``$JS.ACK.<stream>.<durable>.>``) and read their and its streams' ``INFO``;
- write dead letters under ``deadletter.<service>.>``, into its own ``DEADLETTERS_<SERVICE>``
  stream, and read and delete the messages of that stream only (listing, replay);
- watch the platform's key-value buckets (:data:`WATCHED_BUCKETS`: clock, token revocations),
  and create one if it does not exist yet (never update, purge or delete it);
- receive on ``_INBOX_<service>.>`` only: no service reads another's replies or deliveries;
- for the readers of :data:`STREAM_READERS` (the dashboard's live feed): read the listed streams
  message by message (``$JS.API.STREAM.MSG.GET.<stream>``, ``INFO``) and hear their subjects on
  core NATS (the wake-up of the feed). No consumer at all: the ephemeral-create subject
  ``$JS.API.CONSUMER.CREATE.<stream>`` would let a reader replace a durable consumer by
  naming it (nats-server accepts ``config.name`` there), so a reader is given none.

It may not create, update, delete or purge any stream or consumer: that is the ``provisioner``
user's (create/update and ``INFO`` only; no delete, no purge), which the chassis uses at start-up
when it is given ``PRISME_NATS_PROVISION_URL``. ``admin`` (operators' tools, the CLI's
``prisme clock``) may do everything. ``render_config`` writes a nats-server configuration for
the embedded runner and tests; deploy/nats/accounts.conf holds the same rules for a cluster
(services/cli/tests/test_deploy.py checks the two agree).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

from prisme_events import CONSUMERS, SERVICES, STREAMS, consumers_of, dead_letter_stream

PROVISIONER = "provisioner"
ADMIN = "admin"
#: JetStream key-value buckets every service watches (read-only for services).
WATCHED_BUCKETS: tuple[str, ...] = ("PRISME_CLOCK", "prisme-revocations", "prisme-token-usage")
#: Who may write a bucket besides ``admin`` (the dashboard, user ``services``, revokes tokens).
BUCKET_WRITERS: dict[str, tuple[str, ...]] = {"prisme-revocations": ("dashboard",)}
#: Buckets every service writes (when an integration token was last used).
SHARED_WRITES: tuple[str, ...] = ("prisme-token-usage",)
#: Who reads which domain streams besides their consumers: the dashboard's live event feed
#: follows every stream (read-only: messages by sequence, subjects heard; no consumer).
STREAM_READERS: dict[str, tuple[str, ...]] = {"dashboard": tuple(spec.name for spec in STREAMS)}


def inbox_prefix(user: str) -> str:
    """The reply-subject prefix of ``user`` (nats-py ``inbox_prefix``; the chassis sets it)."""
    return f"_INBOX_{user}"


def owned_subjects(service: str) -> list[str]:
    return [subject for spec in STREAMS if spec.owner == service for subject in spec.subjects]


def platform_users() -> list[str]:
    """Every service user of the catalogue (stream owners and consumer owners), sorted."""
    return sorted({s.owner for s in STREAMS} | {c.owner for c in CONSUMERS} | set(SERVICES))


def _bucket_read(bucket: str) -> list[str]:
    stream = f"KV_{bucket}"
    return [
        f"$JS.API.STREAM.INFO.{stream}",
        # the one exception to "no stream creation": the first service up may create a
        # watched bucket (its own code declares it); it can neither change nor delete it
        f"$JS.API.STREAM.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}",  # the ordered (ephemeral) consumer of a watch
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.INFO.{stream}.*",
        f"$JS.API.DIRECT.GET.{stream}.>",
        f"$JS.API.STREAM.MSG.GET.{stream}",
        f"$JS.FC.{stream}.>",
    ]


def service_permissions(service: str) -> dict[str, dict[str, list[str]]]:
    own_streams = [spec.name for spec in STREAMS if spec.owner == service]
    dead = dead_letter_stream(service).name
    consumers = consumers_of(service)
    followed = STREAM_READERS.get(service, ())
    read_streams = sorted({*own_streams, dead, *(c.stream for c in consumers), *followed})
    publish = [
        *owned_subjects(service),
        f"deadletter.{service}.>",
        *(f"$JS.API.STREAM.INFO.{name}" for name in read_streams),
        f"$JS.API.STREAM.MSG.GET.{dead}",
        f"$JS.API.STREAM.MSG.DELETE.{dead}",
    ]
    for c in consumers:
        publish += [
            f"$JS.API.CONSUMER.INFO.{c.stream}.{c.durable}",
            f"$JS.API.CONSUMER.MSG.NEXT.{c.stream}.{c.durable}",
            f"$JS.ACK.{c.stream}.{c.durable}.>",
        ]
    publish += [f"$JS.API.STREAM.MSG.GET.{name}" for name in followed]
    heard = [subject for spec in STREAMS if spec.name in followed for subject in spec.subjects]
    for bucket in WATCHED_BUCKETS:
        publish += _bucket_read(bucket)
        if bucket in SHARED_WRITES or service in BUCKET_WRITERS.get(bucket, ()):
            publish.append(f"$KV.{bucket}.>")
    return {
        "publish": {"allow": publish},
        "subscribe": {"allow": [f"{inbox_prefix(service)}.>", *heard]},
    }


def provisioner_permissions() -> dict[str, dict[str, list[str]]]:
    """Create and update streams and consumers, read their INFO; never delete nor purge."""
    return {
        "publish": {
            "allow": [
                "$JS.API.INFO",
                "$JS.API.STREAM.NAMES",
                "$JS.API.STREAM.INFO.*",
                "$JS.API.STREAM.CREATE.*",
                "$JS.API.STREAM.UPDATE.*",
                "$JS.API.CONSUMER.INFO.*.*",
                "$JS.API.CONSUMER.CREATE.>",
                "$JS.API.CONSUMER.DURABLE.CREATE.*.*",
            ]
        },
        "subscribe": {"allow": [f"{inbox_prefix(PROVISIONER)}.>"]},
    }


def generate_passwords(services: list[str]) -> dict[str, str]:
    return {name: secrets.token_urlsafe(24) for name in [*services, PROVISIONER, ADMIN]}


def render_config(passwords: Mapping[str, str]) -> str:
    """nats-server config text: one user per service, ``provisioner``, ``admin`` (allowed all)."""
    users = []
    for name, password in sorted(passwords.items()):
        entry: dict[str, object] = {"user": name, "password": password}
        if name == PROVISIONER:
            entry["permissions"] = provisioner_permissions()
        elif name != ADMIN:
            entry["permissions"] = service_permissions(name)
        users.append(entry)
    # JSON is valid nats-server configuration syntax.
    return "authorization: " + json.dumps({"users": users}, indent=2) + "\n"


def password_variable(user: str) -> str:
    """The environment variable holding ``user``'s password in deploy/ (``NATS_BILLING_PASSWORD``)."""
    return f"NATS_{user.removesuffix('-svc').upper().replace('-', '_')}_PASSWORD"


ACCOUNTS_HEADER = """\
# NATS accounts and least-privilege users (DESIGN.md §7). GENERATED from the event catalogue by
# prisme_localinfra.nats_auth (`python -m prisme_localinfra.nats_auth > deploy/nats/accounts.conf`),
# the same rules as the embedded `prisme up`; services/cli/tests/test_deploy.py checks it is current.
# Each service: its own subjects, its own consumers (fetch, ack, info), its own dead letters
# (deadletter.<service>.>), its own inbox (_INBOX_<service>), read-only platform buckets.
# dashboard: also reads every domain stream for its live feed (messages by sequence, subjects heard).
# provisioner: creates and updates streams and consumers (never deletes or purges); the services
# get its URL as PRISME_NATS_PROVISION_URL. admin: operators' tools. Passwords from the environment.
"""


def render_accounts() -> str:
    """deploy/nats/accounts.conf: the same users as :func:`render_config`, passwords from env."""
    lines = [ACCOUNTS_HEADER, "accounts {", "  PRISME {", "    jetstream: enabled", "    users: ["]
    for user in [*platform_users(), PROVISIONER]:
        perms = provisioner_permissions() if user == PROVISIONER else service_permissions(user)
        lines.append(
            f"      {{user: {user}, password: ${password_variable(user)},"
            f" permissions: {json.dumps(perms)}}}"
        )
    lines.append(f"      {{user: {ADMIN}, password: ${password_variable(ADMIN)}}}")
    lines += [
        "    ]",
        "  }",
        "  SYS {",
        "    users: [ { user: sys, password: $NATS_SYS_PASSWORD } ]",
    ]
    lines += ["  }", "}", "system_account: SYS", ""]
    return "\n".join(lines)


def url_with_credentials(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"


if __name__ == "__main__":
    print(render_accounts(), end="")
