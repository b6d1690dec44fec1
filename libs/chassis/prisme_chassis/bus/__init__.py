"""The bus on NATS JetStream: outbox relay, inbox consumers, dead letters, provisioning."""

from .consumer import BatchHandler, Consumer, Handler, Subscription
from .deadletter import (
    DeadLetter,
    NotADeadLetter,
    dead_letter_subject,
    list_dead_letters,
    load_dead_letter,
)
from .outbox import OutboxRelay, enqueue, enqueue_many
from .provision import (
    ProvisioningError,
    ensure_consumer,
    ensure_stream,
    provision_service,
)
from .versions import next_version, next_versions

__all__ = [
    "BatchHandler",
    "Consumer",
    "DeadLetter",
    "Handler",
    "NotADeadLetter",
    "OutboxRelay",
    "ProvisioningError",
    "Subscription",
    "dead_letter_subject",
    "enqueue",
    "enqueue_many",
    "ensure_consumer",
    "ensure_stream",
    "list_dead_letters",
    "load_dead_letter",
    "next_version",
    "next_versions",
    "provision_service",
]
