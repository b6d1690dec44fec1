"""The bus on NATS JetStream: outbox relay, inbox consumers, dead letters, provisioning."""

from .consumer import BatchHandler, Consumer, Handler, Subscription, dead_letter_subject
from .deadletter import DeadLetter, list_dead_letters, load_dead_letter
from .outbox import OutboxRelay, enqueue, enqueue_many
from .provision import ensure_consumer, ensure_dead_letter_stream, ensure_stream
from .versions import next_version

__all__ = [
    "BatchHandler",
    "Consumer",
    "DeadLetter",
    "Handler",
    "OutboxRelay",
    "Subscription",
    "dead_letter_subject",
    "enqueue",
    "enqueue_many",
    "ensure_consumer",
    "ensure_dead_letter_stream",
    "ensure_stream",
    "list_dead_letters",
    "load_dead_letter",
    "next_version",
]
