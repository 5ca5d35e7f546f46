"""Status intake from the floor over MQTT: parse, then apply through the one floor service.

Rejections (malformed, unknown kind, …) are counted and logged with their reason; applied and
refused events are recorded as event rows by `apply_event`, so nothing is silently dropped.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mes_bridge.intake import Rejection, StatusEvent, parse_mqtt
from mes_bridge.transports.mqtt_status import MqttStatusSubscriber
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event

if TYPE_CHECKING:
    from orders.context import AppContext

log = logging.getLogger(__name__)


@dataclass
class IntakeStats:
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bump(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1


def handle_message(ctx: AppContext, topic: str, payload: bytes, stats: IntakeStats) -> str:
    """Apply one MQTT status message; returns the outcome code (also counted)."""
    parsed = parse_mqtt(topic, payload)
    if isinstance(parsed, Rejection):
        log.warning("rejected floor message on %s: %s (%s)", topic, parsed.code, parsed.reason)
        stats.bump(parsed.code)
        return parsed.code
    assert isinstance(parsed, StatusEvent)
    with ctx.db.transaction() as s:
        result = apply_event(s, parsed, Actor(f"mqtt:{parsed.machine_id or topic}"))
    if not result.ok:
        log.warning("refused floor event %s: %s (%s)", parsed.event_id, result.code, result.message)
    stats.bump(result.code)
    return result.code


class MqttIntake:
    """Subscribes to `hunar/<site>/+/status` and applies every message (QoS 1)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.stats = IntakeStats()
        st = ctx.settings
        self._subscriber = MqttStatusSubscriber(st.site, st.mqtt_host, st.mqtt_port, self._apply)
        self.topic = self._subscriber.topic
        self.subscribed = self._subscriber.subscribed

    def _apply(self, topic: str, payload: bytes) -> None:
        handle_message(self.ctx, topic, payload, self.stats)

    def start(self) -> None:
        self._subscriber.start()

    def stop(self) -> None:
        self._subscriber.stop()


def opcua_state_listener(
    ctx: AppContext, machine_id: str = "", stats: IntakeStats | None = None
) -> Callable[[str, str, str], None]:
    """A `JobControlReceiver(on_state=...)` callback: job-order state changes reported over OPC UA
    (OPC 10031-4 states) become floor events, applied like any other source."""
    from mes_bridge.intake import opcua_transition_event

    counter = stats or IntakeStats()
    seq = itertools.count(1)

    def on_state(job_id: str, old: str, new: str) -> None:
        parsed = opcua_transition_event(job_id, old, new, datetime.now(UTC), next(seq), machine_id)
        if parsed is None:
            return
        if isinstance(parsed, Rejection):
            counter.bump(parsed.code)
            return
        with ctx.db.transaction() as s:
            counter.bump(apply_event(s, parsed, Actor(f"opcua:{machine_id or job_id}")).code)

    return on_state
