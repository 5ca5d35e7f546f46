"""The outbox dispatcher: deliver pending packets, exactly once per idempotency key.

Pure with respect to storage: it talks to an ``Outbox`` protocol. The lead implements
it over the ``OutboxMessage`` table; ``InMemoryOutbox`` serves tests and benches.
Only ``TransportUnavailable`` is retried (with exponential backoff); a rejected packet
is parked with ``retry_at=None`` for a human. Either way a failed row stays in the
outbox. Starts are separate outbox items so a redelivery never re-sends a start, and
``Transport.start`` reconciles with the device before sending. An ``EXCLUDE`` item asks the
printer to skip one object of a running plate; a printer that cannot (``Unsupported``) closes the
item with ``HAND_REMOVAL`` as its receipt, so the operator is told to remove the part by hand.
A ``CANCEL`` item stops the printer's running job; a printer that cannot be stopped remotely
closes it with ``HAND_STOP``, so the planner is told to stop it at the machine.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from mes_bridge.transports.base import (
    DeliveryReceipt,
    DeliveryRejected,
    NotReady,
    Packet,
    Transport,
    TransportError,
    TransportUnavailable,
    Unsupported,
    now_utc,
)

HAND_REMOVAL = "printer cannot skip one object: remove it by hand"
HAND_STOP = "printer cannot cancel a print remotely: stop it by hand"


class Action(enum.Enum):
    DELIVER = "deliver"
    START = "start"
    EXCLUDE = "exclude"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One row to send: which transport, what, and the key that makes resends harmless."""

    id: str
    transport: str
    packet: Packet
    idempotency_key: str
    action: Action = Action.DELIVER
    attempts: int = 0
    object_name: str = ""  # EXCLUDE: the plate object to skip, as the G-code/3MF labels it


class Outbox(Protocol):
    def pending(self, limit: int) -> list[OutboxItem]:
        """Items due now (retry_at passed or unset), oldest first."""
        ...

    def mark_delivered(self, item_id: str, receipt: DeliveryReceipt) -> None: ...

    def mark_failed(self, item_id: str, error: str, retry_at: datetime | None) -> None:
        """Record a failure; ``retry_at=None`` parks the item (not retryable)."""
        ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: base * factor**attempt, capped."""

    base_s: float = 1.0
    factor: float = 2.0
    max_s: float = 300.0

    def delay(self, attempt: int) -> float:
        return min(self.max_s, self.base_s * self.factor ** max(0, attempt))


@dataclass(slots=True)
class DispatchReport:
    delivered: int = 0
    retry_later: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


def _exclude(transport: Transport, item: OutboxItem) -> DeliveryReceipt:
    """Skip one object; a printer without the capability is answered, not retried."""
    job_id = item.packet.job.job_order_id
    try:
        transport.exclude_object(job_id, item.object_name)
        detail = f"skipped {item.object_name}"
    except Unsupported as exc:
        detail = f"{HAND_REMOVAL} ({exc})"
    return DeliveryReceipt(transport.name, job_id, item.idempotency_key, now_utc(), detail)


def _cancel(transport: Transport, item: OutboxItem) -> DeliveryReceipt:
    """Stop the running job; a printer without the capability is answered, not retried."""
    job_id = item.packet.job.job_order_id
    try:
        transport.cancel(job_id)
        detail = "cancelled"
    except Unsupported as exc:
        detail = f"{HAND_STOP} ({exc})"
    return DeliveryReceipt(transport.name, job_id, item.idempotency_key, now_utc(), detail)


def _send(transport: Transport, item: OutboxItem) -> DeliveryReceipt:
    if item.action is Action.EXCLUDE:
        return _exclude(transport, item)
    if item.action is Action.CANCEL:
        return _cancel(transport, item)
    if item.action is Action.START:
        result = transport.start(item.packet.job.job_order_id)
        detail = "sent" if result.sent else f"reconciled:{result.state.value}"
        return DeliveryReceipt(
            transport.name, result.job_order_id, item.idempotency_key, now_utc(), detail
        )
    return transport.deliver(item.packet, item.idempotency_key)


def dispatch_once(
    outbox: Outbox,
    transports: Mapping[str, Transport],
    limit: int = 100,
    backoff: Backoff | None = None,
    clock: Callable[[], datetime] = now_utc,
) -> DispatchReport:
    """One pass over due items. A transport that fails is skipped for the rest of the pass."""
    backoff = backoff or Backoff()
    report = DispatchReport()
    down: dict[str, str] = {}
    for item in outbox.pending(limit):
        transport = transports.get(item.transport)
        if transport is None:
            outbox.mark_failed(item.id, f"no transport named {item.transport!r}", None)
            report.rejected += 1
            continue
        retry_at = clock() + timedelta(seconds=backoff.delay(item.attempts))
        if item.transport in down:
            outbox.mark_failed(item.id, down[item.transport], retry_at)
            report.retry_later += 1
            continue
        try:
            receipt = _send(transport, item)
        except NotReady as exc:  # this item only: the transport itself is fine
            outbox.mark_failed(item.id, f"not ready: {exc}", retry_at)
            report.retry_later += 1
        except TransportUnavailable as exc:
            down[item.transport] = f"unavailable: {exc}"
            outbox.mark_failed(item.id, down[item.transport], retry_at)
            report.retry_later += 1
            report.errors.append(str(exc))
        except DeliveryRejected as exc:
            outbox.mark_failed(item.id, f"rejected: {exc}", None)
            report.rejected += 1
            report.errors.append(str(exc))
        except TransportError as exc:
            outbox.mark_failed(item.id, f"error: {exc}", None)
            report.rejected += 1
            report.errors.append(str(exc))
        else:
            outbox.mark_delivered(item.id, receipt)
            report.delivered += 1
    return report


def run_until_drained(
    outbox: Outbox,
    transports: Mapping[str, Transport],
    deadline_s: float,
    idle_sleep_s: float = 0.05,
    backoff: Backoff | None = None,
    stop: threading.Event | None = None,
) -> DispatchReport:
    """Loop ``dispatch_once`` until nothing is due and nothing waits, or the deadline."""
    total = DispatchReport()
    end = time.monotonic() + deadline_s
    while time.monotonic() < end and not (stop is not None and stop.is_set()):
        rep = dispatch_once(outbox, transports, backoff=backoff)
        total.delivered += rep.delivered
        total.retry_later += rep.retry_later
        total.rejected += rep.rejected
        total.errors.extend(rep.errors)
        waiting = getattr(outbox, "waiting", None)
        if rep.delivered == 0 and rep.retry_later == 0 and (waiting is None or waiting() == 0):
            break
        if rep.delivered == 0:
            time.sleep(idle_sleep_s)
    return total


@dataclass(slots=True)
class _Row:
    item: OutboxItem
    retry_at: datetime | None = None
    delivered: DeliveryReceipt | None = None
    parked: bool = False
    errors: list[str] = field(default_factory=list)


class InMemoryOutbox:
    """A thread-safe Outbox for tests and benches; mirrors the DB table's semantics."""

    def __init__(self, clock: Callable[[], datetime] = now_utc) -> None:
        self._rows: dict[str, _Row] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def add(self, item: OutboxItem) -> None:
        with self._lock:
            if item.id in self._rows:
                raise ValueError(f"outbox item {item.id!r} already exists")
            self._rows[item.id] = _Row(item)

    def pending(self, limit: int) -> list[OutboxItem]:
        now = self._clock()
        with self._lock:
            due = [
                r.item
                for r in self._rows.values()
                if r.delivered is None
                and not r.parked
                and (r.retry_at is None or r.retry_at <= now)
            ]
        return due[:limit]

    def mark_delivered(self, item_id: str, receipt: DeliveryReceipt) -> None:
        with self._lock:
            row = self._rows[item_id]
            if row.delivered is not None:
                raise ValueError(f"outbox item {item_id!r} delivered twice")
            row.delivered = receipt

    def mark_failed(self, item_id: str, error: str, retry_at: datetime | None) -> None:
        with self._lock:
            row = self._rows[item_id]
            row.errors.append(error)
            row.item = replace(row.item, attempts=row.item.attempts + 1)
            row.retry_at = retry_at
            row.parked = retry_at is None

    def waiting(self) -> int:
        """Items neither delivered nor parked (due now or later)."""
        with self._lock:
            return sum(1 for r in self._rows.values() if r.delivered is None and not r.parked)

    def receipts(self) -> dict[str, DeliveryReceipt]:
        with self._lock:
            return {k: r.delivered for k, r in self._rows.items() if r.delivered is not None}

    def parked(self) -> dict[str, list[str]]:
        with self._lock:
            return {k: list(r.errors) for k, r in self._rows.items() if r.parked}

    def errors(self, item_id: str) -> list[str]:
        with self._lock:
            return list(self._rows[item_id].errors)
