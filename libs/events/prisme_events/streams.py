"""One stream per producing service (DESIGN.md §3), plus the dead-letter stream."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    owner: str


STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("CONTRACTS", ("contract.>", "intervention.>", "client.>"), "contracts-svc"),
    StreamSpec("BILLING", ("invoice.>", "credit_note.>", "payment.>"), "billing-svc"),
    StreamSpec("LICENCES", ("licence.>",), "licence-svc"),
    StreamSpec("VIDEOS", ("video.>",), "video-svc"),
    StreamSpec("BACKUPS", ("backup.>",), "backup-svc"),
    StreamSpec("WEBHOOKS", ("webhook.>",), "services"),
)

DEAD_LETTER_STREAM = StreamSpec("DEADLETTERS", ("deadletter.>",), "chassis")


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
