"""Machine-side MQTT listener: receives job packets and dedupes by idempotency key.

QoS 1 is at-least-once on the wire; exactly-once *effect* comes from this dedupe. It
is what an edge gateway next to a machine runs, and what tests and the bench use as
the real subscriber. A persistent session (clean_session=False) keeps packets queued
in the broker while the listener is away.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt


@dataclass
class Received:
    """Counters and first-arrival times by idempotency key."""

    raw: int = 0
    by_key: dict[str, int] = field(default_factory=dict)
    first_at: dict[str, float] = field(default_factory=dict)
    released_at: dict[str, str] = field(default_factory=dict)
    malformed: int = 0

    @property
    def unique(self) -> int:
        return len(self.by_key)

    @property
    def duplicates(self) -> int:
        return self.raw - self.malformed - self.unique


class MqttJobListener:
    """Subscribe to ``topic_filter`` (QoS 1), count arrivals, hand each packet on once."""

    def __init__(
        self,
        topic_filter: str,
        client_id: str,
        host: str = "127.0.0.1",
        port: int = 1883,
        persistent: bool = True,
        on_packet: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.on_packet = on_packet
        self.topic_filter, self.host, self.port = topic_filter, host, port
        self.received = Received()
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent
        )
        # paho-mqtt hints min_delay as int, but only sleeps and doubles it: 0.2 s works as meant.
        self._client.reconnect_delay_set(min_delay=0.2, max_delay=1)  # type: ignore[arg-type]
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_a: self._subscribed.set()
        self._client.on_message = self._on_message

    def start(self, timeout_s: float = 5.0) -> None:
        """Connect and wait for SUBACK; raises ConnectionError naming the broker."""
        try:
            self._client.connect(self.host, self.port, keepalive=10)
        except OSError as exc:
            raise ConnectionError(
                f"MQTT broker {self.host}:{self.port} unreachable: {exc}"
            ) from exc
        self._client.loop_start()
        if not self._subscribed.wait(timeout_s):
            self.stop()
            raise ConnectionError(f"MQTT broker {self.host}:{self.port}: no SUBACK")

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if not rc.is_failure:
            client.subscribe(self.topic_filter, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        now = time.perf_counter()
        with self._lock:
            self.received.raw += 1
            try:
                doc = json.loads(msg.payload)
                key = str(doc["idempotency_key"])
            except (ValueError, KeyError, TypeError):
                self.received.malformed += 1
                return
            count = self.received.by_key.get(key, 0)
            self.received.by_key[key] = count + 1
            if count > 0:
                return  # a QoS 1 redelivery: already handed to the machine
            self.received.first_at[key] = now
            self.received.released_at[key] = str(doc.get("released_at", ""))
            if self.on_packet is not None:
                self.on_packet(doc)

    def wait_for(self, unique: int, timeout_s: float) -> bool:
        """Block until ``unique`` distinct packets arrived or the timeout passed."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            with self._lock:
                if self.received.unique >= unique:
                    return True
            time.sleep(0.01)
        return False
