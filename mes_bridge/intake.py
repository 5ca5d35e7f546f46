"""Status intake: turn raw shop-floor messages into validated ``StatusEvent`` values.

Events come over MQTT, OPC UA, REST (signed webhooks) and the operator's buttons.
Bad input is never an exception here: each parser returns either a ``StatusEvent`` or
a ``Rejection`` naming the reason, so the caller can log and count it. ``EventGate``
then drops replays and out-of-order events before anything touches the database
(applying events is ``orders/``'s job).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mes_bridge.transports.webhook import HeaderItems, verify_signature

log = logging.getLogger(__name__)

KINDS = (
    "started",
    "progress",
    "completed",
    "scrapped",
    "paused",
    "machine_down",
    "machine_up",
    "power_lost",
    "power_back",
)
MACHINE_KINDS = frozenset({"machine_down", "machine_up"})
# Load-shedding reported from the floor: about an electricity feeder, not one job or machine.
POWER_KINDS = frozenset({"power_lost", "power_back"})
SOURCES = ("mqtt", "opcua", "rest", "button", "octoprint")


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """One validated event from the floor."""

    job_order_id: str
    kind: str
    at: datetime
    event_id: str
    source: str
    progress_pct: float | None = None
    qty: int | None = None
    reason: str = ""
    machine_id: str = ""
    feeder: str = ""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an incoming message was refused; ``code`` feeds the counters."""

    code: str
    reason: str
    source: str
    event_id: str = ""
    job_order_id: str = ""


IntakeResult = StatusEvent | Rejection


def _reject(code: str, reason: str, source: str, doc: Mapping[str, Any] | None = None) -> Rejection:
    doc = doc or {}
    return Rejection(
        code, reason, source, str(doc.get("event_id", "")), str(doc.get("job_order_id", ""))
    )


def _parse_at(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else None


def _validate_numbers(kind: str, doc: Mapping[str, Any]) -> tuple[str, float | None, int | None]:
    pct, qty = doc.get("progress_pct"), doc.get("qty")
    if kind == "progress":
        if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100:
            return ("progress_pct: must be a number from 0 to 100", None, None)
        pct = float(pct)
    elif pct is not None:
        return (f"progress_pct: only allowed for kind 'progress', not {kind!r}", None, None)
    if kind == "scrapped":
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
            return ("qty: scrapped events need an integer quantity >= 1", None, None)
    elif qty is not None and (isinstance(qty, bool) or not isinstance(qty, int) or qty < 0):
        return ("qty: must be an integer >= 0", None, None)
    return ("", pct, qty)


def parse_event(doc: Any, source: str) -> IntakeResult:
    """Validate a decoded event document (the shared JSON shape of every channel)."""
    if source not in SOURCES:
        raise ValueError(f"source: {source!r} is not one of {SOURCES}")
    if not isinstance(doc, Mapping):
        return _reject("malformed", "event must be a JSON object", source)
    kind = doc.get("kind")
    if kind not in KINDS:
        return _reject("unknown_kind", f"kind: {kind!r} is not one of {KINDS}", source, doc)
    event_id = doc.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip():
        return _reject("malformed", "event_id: must be a non-empty string", source, doc)
    job_id = doc.get("job_order_id", "")
    machine_id = doc.get("machine_id", "")
    if not isinstance(job_id, str) or not isinstance(machine_id, str):
        return _reject("malformed", "job_order_id/machine_id: must be strings", source, doc)
    feeder = doc.get("feeder", "")
    if not isinstance(feeder, str) or len(feeder) > 64 or (kind in POWER_KINDS) != bool(feeder):
        return _reject(
            "malformed", "feeder: a name of at most 64 chars, for power events only", source, doc
        )
    if kind in MACHINE_KINDS and not machine_id:
        return _reject("malformed", f"machine_id: required for {kind}", source, doc)
    if kind not in MACHINE_KINDS | POWER_KINDS and not job_id:
        return _reject("malformed", f"job_order_id: required for {kind}", source, doc)
    at = _parse_at(doc.get("at"))
    if at is None:
        return _reject("malformed", "at: must be an ISO-8601 timestamp with offset", source, doc)
    problem, pct, qty = _validate_numbers(kind, doc)
    if problem:
        return _reject("malformed", problem, source, doc)
    reason = doc.get("reason", "")
    if not isinstance(reason, str) or len(reason) > 500:
        return _reject("malformed", "reason: must be a string of at most 500 chars", source, doc)
    return StatusEvent(job_id, kind, at, event_id, source, pct, qty, reason, machine_id, feeder)


def parse_json_bytes(payload: bytes, source: str) -> IntakeResult:
    """Decode then validate; undecodable bytes become a ``malformed`` rejection."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return Rejection("malformed", f"not JSON: {exc}", source)
    return parse_event(doc, source)


def parse_mqtt(topic_name: str, payload: bytes) -> IntakeResult:
    """Status message from ``hunar/<site>/<machine>/status``; machine id comes from the topic."""
    result = parse_json_bytes(payload, "mqtt")
    parts = topic_name.split("/")
    if isinstance(result, StatusEvent) and len(parts) == 4 and not result.machine_id:
        return StatusEvent(**{**_asdict(result), "machine_id": parts[2]})
    return result


def parse_rest(
    body: bytes, headers: HeaderItems, secret: bytes, now: datetime, tolerance_s: float = 300
) -> IntakeResult:
    """A signed REST callback: the signature is checked before the body is even parsed."""
    problem = verify_signature(secret, headers, body, now, tolerance_s)
    if problem:
        return Rejection("bad_signature", problem, "rest")
    return parse_json_bytes(body, "rest")


def button_event(
    job_order_id: str, kind: str, at: datetime, event_id: str, **extra: Any
) -> IntakeResult:
    """An operator pressing a button in web/operator (validated like any other source)."""
    doc = {"job_order_id": job_order_id, "kind": kind, "at": at, "event_id": event_id, **extra}
    return parse_event(doc, "button")


# OPC 10031-4 job-order state transitions reported by the receiver -> event kinds
_OPCUA_KINDS = {
    ("AllowedToStart", "Running"): "started",
    ("Interrupted", "Running"): "started",
    ("Running", "Interrupted"): "paused",
    ("Running", "Ended"): "completed",
}


def opcua_transition_event(
    job_order_id: str, old: str, new: str, at: datetime, seq: int, machine_id: str = ""
) -> IntakeResult | None:
    """Map a receiver state change to an event; None for bookkeeping-only transitions.

    ``seq`` is the receiver's transition counter, making the event id stable for replays.
    """
    kind = _OPCUA_KINDS.get((old, new))
    if kind is None:
        return None
    doc = {
        "job_order_id": job_order_id,
        "kind": kind,
        "at": at,
        "event_id": f"opcua:{job_order_id}:{seq}",
        "machine_id": machine_id,
    }
    return parse_event(doc, "opcua")


_STATE_KINDS = {"Running": "progress", "Interrupted": "paused", "Ended": "completed"}


def polled_state_event(
    job_order_id: str, state: str, pct: float | None, at: datetime, source: str, seq: int
) -> IntakeResult | None:
    """An event from polling a device (OctoPrint /api/job); None when nothing to report.

    Use ``started`` from the start receipt first: the gate rejects progress before it.
    """
    kind = _STATE_KINDS.get(state)
    if kind is None:
        return None
    doc: dict[str, Any] = {
        "job_order_id": job_order_id,
        "kind": kind,
        "at": at,
        "event_id": f"{source}:{job_order_id}:{seq}",
    }
    if kind == "progress":
        doc["progress_pct"] = 0.0 if pct is None else pct
    return parse_event(doc, source)


def _asdict(ev: StatusEvent) -> dict[str, Any]:
    return {name: getattr(ev, name) for name in StatusEvent.__slots__}


@dataclass(slots=True)
class _JobProgress:
    started: bool = False
    completed: bool = False


@dataclass
class EventGate:
    """Drops replays and out-of-order events, with counters per reason.

    ``known_job`` (if given) answers whether a job order id exists; unknown ones are
    rejected. Scrap may follow completion (QC finds it); progress may not.
    """

    known_job: Callable[[str], bool] | None = None
    counters: Counter[str] = field(default_factory=Counter)
    _seen: set[str] = field(default_factory=set)
    _jobs: dict[str, _JobProgress] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, result: IntakeResult) -> IntakeResult:
        """Return the event if it may be applied, else a Rejection (counted and logged)."""
        with self._lock:
            verdict = self._judge(result) if isinstance(result, StatusEvent) else result
            if isinstance(verdict, Rejection):
                self.counters[f"rejected.{verdict.code}"] += 1
                log.info("status event rejected: %s (%s)", verdict.code, verdict.reason)
            else:
                self.counters[f"accepted.{verdict.kind}"] += 1
            return verdict

    def _judge(self, ev: StatusEvent) -> IntakeResult:
        def no(code: str, why: str) -> Rejection:
            return Rejection(code, why, ev.source, ev.event_id, ev.job_order_id)

        if ev.event_id in self._seen:
            return no("duplicate", f"event_id {ev.event_id!r} already processed")
        if ev.kind in MACHINE_KINDS | POWER_KINDS:
            self._seen.add(ev.event_id)
            return ev
        if self.known_job is not None and not self.known_job(ev.job_order_id):
            return no("unknown_job", f"job_order_id {ev.job_order_id!r} is not known")
        job = self._jobs.setdefault(ev.job_order_id, _JobProgress())
        if ev.kind == "started":
            if job.completed:
                return no("out_of_order", "started after completed")
            job.started = True
        elif ev.kind in ("progress", "paused", "completed"):
            if not job.started:
                return no("out_of_order", f"{ev.kind} before started")
            if job.completed:
                return no("out_of_order", f"{ev.kind} after completed")
            job.completed = job.completed or ev.kind == "completed"
        elif ev.kind == "scrapped" and not job.started:
            return no("out_of_order", "scrapped before started")
        self._seen.add(ev.event_id)
        return ev
