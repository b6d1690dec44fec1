"""One stream per producing service (DESIGN.md §3), its durable consumers and dead letters.

The tables here are also the NATS permissions (prisme_localinfra.nats_auth, deploy/nats): a
service may publish only its stream's subjects, fetch from and ack only the consumers listed for
it in :data:`CONSUMERS`, and write dead letters only under ``deadletter.<service>.>``, into its
own dead-letter stream.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    owner: str


#: Each stream also carries its service's ``job.dead.<area>`` (prisme_events.jobs): the chassis
#: publishes it when one of the service's durable jobs goes dead.
STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "CONTRACTS",
        ("contract.>", "intervention.>", "client.>", "job.dead.contracts"),
        "contracts-svc",
    ),
    StreamSpec(
        "BILLING", ("invoice.>", "credit_note.>", "payment.>", "job.dead.billing"), "billing-svc"
    ),
    StreamSpec("LICENCES", ("licence.>", "job.dead.licence"), "licence-svc"),
    StreamSpec("VIDEOS", ("video.>", "job.dead.video"), "video-svc"),
    StreamSpec("BACKUPS", ("backup.>", "job.dead.backup"), "backup-svc"),
    StreamSpec("WEBHOOKS", ("webhook.>", "job.dead.webhooks"), "webhooks"),
)


@dataclass(frozen=True)
class ConsumerSpec:
    """A durable pull consumer: its name, the stream it reads and the service that owns it."""

    durable: str
    stream: str
    owner: str


#: Every process built on the chassis: each has its NATS user (same name) and dead letters.
SERVICES: tuple[str, ...] = (
    "contracts-svc",
    "billing-svc",
    "licence-svc",
    "video-svc",
    "backup-svc",
    "webhooks",
    "dashboard",
)


def dead_letter_stream(owner: str) -> StreamSpec:
    """The stream keeping ``owner``'s dead letters, subjects ``deadletter.<owner>.<durable>.…``."""
    short = owner.removesuffix("-svc").upper().replace("-", "_")
    return StreamSpec(f"DEADLETTERS_{short}", (f"deadletter.{owner}.>",), owner)


#: The webhooks dispatcher's watcher of every service's dead letters (alerts).
DEAD_LETTER_WATCHER = "webhooks-deadletters"

CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec("billing-contracts", "CONTRACTS", "billing-svc"),
    ConsumerSpec("licence-contracts", "CONTRACTS", "licence-svc"),
    ConsumerSpec("video-contracts", "CONTRACTS", "video-svc"),
    ConsumerSpec("backup-contracts", "CONTRACTS", "backup-svc"),
    # webhooks: one consumer per stream, and one per service's dead letters
    *(ConsumerSpec(f"webhooks-{spec.name.lower()}", spec.name, "webhooks") for spec in STREAMS),
    *(
        ConsumerSpec(DEAD_LETTER_WATCHER, dead_letter_stream(owner).name, "webhooks")
        for owner in SERVICES
    ),
)


def consumers_of(owner: str) -> tuple[ConsumerSpec, ...]:
    return tuple(c for c in CONSUMERS if c.owner == owner)


def stream_for(subject: str) -> StreamSpec:
    """The stream that carries ``subject``."""
    for spec in STREAMS:
        for pattern in spec.subjects:
            if subject.startswith(pattern.removesuffix(">")):
                return spec
    raise KeyError(subject)


def stream_of(owner: str) -> StreamSpec:
    for spec in STREAMS:
        if spec.owner == owner:
            return spec
    raise KeyError(owner)
