"""The PRISME event catalogue: one pydantic model per event type (DESIGN.md §3)."""

from .backup import BackupCheckFailed, BackupMissed, BackupPurged, BackupSnapshotCompleted
from .base import (
    Event,
    UnknownEventError,
    cloudevent_headers,
    decode,
    encode,
    event_type,
    event_types,
)
from .billing import (
    CreditNoteIssued,
    InvoiceIssued,
    InvoicePaid,
    InvoicePaymentFailed,
    PaymentRefunded,
)
from .contract import (
    Address,
    Change,
    ClientSnapshot,
    ContractActivated,
    ContractAmended,
    ContractEligibilityChanged,
    ContractEnded,
    ContractEvent,
    ContractUser,
    EligibilityFailure,
    Manager,
)
from .licence import LicenceFailed, LicenceProvisioned, LicenceRevoked
from .streams import DEAD_LETTER_STREAM, STREAMS, StreamSpec, stream_for, stream_of
from .video import VideoLinkCreated, VideoLinkRevoked

__all__ = [
    "DEAD_LETTER_STREAM",
    "STREAMS",
    "Address",
    "BackupCheckFailed",
    "BackupMissed",
    "BackupPurged",
    "BackupSnapshotCompleted",
    "Change",
    "ClientSnapshot",
    "ContractActivated",
    "ContractAmended",
    "ContractEligibilityChanged",
    "ContractEnded",
    "ContractEvent",
    "ContractUser",
    "CreditNoteIssued",
    "EligibilityFailure",
    "Event",
    "InvoiceIssued",
    "InvoicePaid",
    "InvoicePaymentFailed",
    "LicenceFailed",
    "LicenceProvisioned",
    "LicenceRevoked",
    "Manager",
    "PaymentRefunded",
    "StreamSpec",
    "UnknownEventError",
    "VideoLinkCreated",
    "VideoLinkRevoked",
    "cloudevent_headers",
    "decode",
    "encode",
    "event_type",
    "event_types",
    "stream_for",
    "stream_of",
]
