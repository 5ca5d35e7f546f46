"""Shop-floor transports behind one interface (see ``base.Transport``).

Implementations are imported from their own modules so a process only loads the
network libraries it uses.
"""

from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryReceipt,
    DeliveryRejected,
    JobState,
    NotReady,
    Packet,
    PrinterStatus,
    StartResult,
    Transport,
    TransportError,
    TransportUnavailable,
    Unsupported,
)

__all__ = [
    "ConnectionState",
    "DeliveryReceipt",
    "DeliveryRejected",
    "JobState",
    "NotReady",
    "Packet",
    "PrinterStatus",
    "StartResult",
    "Transport",
    "TransportError",
    "TransportUnavailable",
    "Unsupported",
]
