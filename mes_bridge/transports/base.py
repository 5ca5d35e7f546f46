"""The one interface every shop-floor transport implements.

Delivery is confirmed (a receipt only after the peer acknowledged), errors are typed
so the dispatcher knows what to retry, and starting a job is at most once: a
transport reads the device's state before it ever sends a start.
"""

from __future__ import annotations

import enum
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mes_bridge.packets import JobOrder, to_b2mml_xml, to_json


class ConnectionState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"


class TransportError(Exception):
    """Base of all transport errors."""


class TransportUnavailable(TransportError):
    """The peer cannot be reached right now; retry later (the packet stays in the outbox)."""


class NotReady(TransportUnavailable):
    """A start arrived before its packet is on the device; retry after the delivery."""


class DeliveryRejected(TransportError):
    """The peer refused the packet (bad content, auth, conflict); retrying will not help."""


class Unsupported(TransportError):
    """The transport or this device cannot do that (skip one object, report temperatures...)."""


class JobState(enum.Enum):
    """Device-side job state, in the vocabulary of OPC 10031-4 job-order states."""

    UNKNOWN = "Unknown"
    NOT_ALLOWED_TO_START = "NotAllowedToStart"
    ALLOWED_TO_START = "AllowedToStart"
    RUNNING = "Running"
    INTERRUPTED = "Interrupted"
    ENDED = "Ended"
    ABORTED = "Aborted"


@dataclass(frozen=True, slots=True)
class Packet:
    """What goes on the wire: the job order plus its encoded forms and attached files."""

    job: JobOrder
    xml: bytes
    json_doc: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_job(cls, job: JobOrder, files: dict[str, bytes] | None = None) -> Packet:
        """Encode once so every transport sends identical content."""
        return cls(job=job, xml=to_b2mml_xml(job), json_doc=to_json(job), files=dict(files or {}))

    def json_bytes(self) -> bytes:
        return json.dumps(self.json_doc, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """Proof that a peer accepted a packet; stored on the outbox row."""

    transport: str
    job_order_id: str
    idempotency_key: str
    delivered_at: datetime
    peer_ref: str = ""
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class StartResult:
    """Outcome of ``start``: ``sent`` is False when reconciliation found it already started."""

    job_order_id: str
    sent: bool
    state: JobState
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """One printer's live state for the fleet board, in the same words for every protocol.

    ``monitor_only`` carries the reason a printer may be watched but not driven (e.g. a Bambu
    printer whose firmware enforces authorization control); empty when it can be driven.
    """

    machine_id: str
    connection: ConnectionState
    job_state: JobState
    job_id: str = ""
    progress: float | None = None  # 0..1
    eta_s: float | None = None
    nozzle_c: float | None = None
    bed_c: float | None = None
    material: str = ""
    error: str = ""
    monitor_only: str = ""
    read_at: datetime | None = None


def now_utc() -> datetime:
    return datetime.now(UTC)


class Transport(ABC):
    """A way to reach one machine or workstation. Subclasses own their state machine."""

    name: str = "abstract"

    def __init__(self) -> None:
        self._state = ConnectionState.DISCONNECTED

    @property
    def state(self) -> ConnectionState:
        return self._state

    @abstractmethod
    def connect(self) -> None:
        """Open the connection; raises TransportUnavailable when the peer is down."""

    @abstractmethod
    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        """Hand the packet over and return only once the peer confirmed it."""

    @abstractmethod
    def read_state(self, job_id: str) -> JobState:
        """Ask the device what state the job is in (the basis of at-most-once start)."""

    @abstractmethod
    def start(self, job_id: str) -> StartResult:
        """Start the job at most once: read the device state first, never resend blindly."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; safe to call twice."""

    # Optional capabilities: printer transports override what their protocol supports.
    def status(self) -> PrinterStatus:
        """The device's live state for the fleet board."""
        raise Unsupported(f"{self.name} reports no printer status")

    def cancel(self, job_id: str) -> None:
        """Stop the running job (the plate is then no longer clear)."""
        raise Unsupported(f"{self.name} cannot cancel a job")

    def exclude_object(self, job_id: str, object_name: str) -> None:
        """Skip one object of a running shared plate; the others go on printing."""
        raise Unsupported(f"{self.name} cannot skip one object of a plate")

    def __enter__(self) -> Transport:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


STARTED_STATES = frozenset({JobState.RUNNING, JobState.INTERRUPTED, JobState.ENDED})
