"""MQTT transport (paho-mqtt 2.x): job packets to ``hunar/<site>/<machine>/jobs``.

Delivery is QoS 1 and confirmed by the broker's PUBACK. The packet also becomes the
retained ``current`` job so a machine that (re)connects sees what it should run.
When a publish is not acknowledged in time the client is torn down (clean session),
so nothing queued inside paho surfaces later behind the dispatcher's back; the retry
carries the same idempotency key. QoS 1 is at-least-once, so receivers dedupe by
that key (``mqtt_listener.MqttJobListener`` does) for an exactly-once effect.

Starts go to ``.../commands/<job_order_id>`` as retained messages: the retained start
is the durable at-most-once mark any later process checks before sending (machines
subscribe to ``.../commands/#`` and clear a job's retained command when done).
Machines report on ``.../status``; those messages update ``read_state`` and go to an
optional ``on_status`` callback for intake.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import paho.mqtt.client as mqtt

from mes_bridge.transports.base import (
    STARTED_STATES,
    ConnectionState,
    DeliveryReceipt,
    DeliveryRejected,
    JobState,
    Packet,
    StartResult,
    Transport,
    TransportUnavailable,
    now_utc,
)
from mes_bridge.transports.registry import SiteConfig

StatusCallback = Callable[[str, bytes], None]
_KIND_TO_STATE = {
    "started": JobState.RUNNING,
    "progress": JobState.RUNNING,
    "resumed": JobState.RUNNING,
    "paused": JobState.INTERRUPTED,
    "completed": JobState.ENDED,
    "aborted": JobState.ABORTED,
    "stored": JobState.ALLOWED_TO_START,
}


def topic(site: str, machine: str, leaf: str) -> str:
    """The topic layout shared by the transport, simulators and tests."""
    for part, name in ((site, "site"), (machine, "machine")):
        if not part or any(c in part for c in "/#+"):
            raise ValueError(f"{name}: {part!r} must be non-empty and free of '/', '#', '+'")
    return f"hunar/{site}/{machine}/{leaf}"


def envelope(packet: Packet, idempotency_key: str) -> bytes:
    """The JSON payload on the jobs topic: the job, its B2MML and the idempotency key."""
    doc = {
        "idempotency_key": idempotency_key,
        "released_at": now_utc().isoformat(),
        "job": packet.json_doc,
        "b2mml": packet.xml.decode("utf-8"),
    }
    return json.dumps(doc, separators=(",", ":")).encode()


class MqttTransport(Transport):
    name = "mqtt"

    def __init__(
        self,
        site: str,
        machine: str,
        host: str = "127.0.0.1",
        port: int = 1883,
        timeout_s: float = 5.0,
        on_status: StatusCallback | None = None,
        retain_current: bool = True,
    ) -> None:
        super().__init__()
        self.site, self.machine, self.host, self.port = site, machine, host, port
        self.timeout_s = timeout_s
        self.on_status = on_status
        self.retain_current = retain_current
        self.jobs_topic = topic(site, machine, "jobs")
        self.current_topic = topic(site, machine, "current")
        self.status_topic = topic(site, machine, "status")
        self.command_topic = topic(site, machine, "commands")
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._job_states: dict[str, JobState] = {}
        self._lock = threading.Lock()

    # -- connection -------------------------------------------------------------
    def connect(self) -> None:
        if self._client is not None and self._connected.is_set():
            return
        self._teardown()
        self._state = ConnectionState.CONNECTING
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"hunar-{self.machine}-{uuid.uuid4().hex[:8]}",
            clean_session=True,
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._connected.clear()
        try:
            client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"mqtt broker {self.host}:{self.port}: {exc}") from exc
        client.loop_start()
        self._client = client
        if not self._connected.wait(self.timeout_s):
            self._teardown()
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"mqtt broker {self.host}:{self.port}: no CONNACK")
        self._state = ConnectionState.CONNECTED

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            return
        client.subscribe(self.status_topic, qos=1)
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _ud: Any, _flags: Any, _rc: Any, _p: Any) -> None:
        self._connected.clear()
        if self._state is ConnectionState.CONNECTED:
            self._state = ConnectionState.CONNECTING

    def _on_message(self, _c: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            doc = json.loads(msg.payload)
            job_id, kind = str(doc["job_order_id"]), str(doc["kind"])
        except (ValueError, KeyError, TypeError):
            job_id, kind = "", ""
        state = _KIND_TO_STATE.get(kind)
        if job_id and state is not None:
            with self._lock:
                self._job_states[job_id] = state
        if self.on_status is not None:
            self.on_status(msg.topic, bytes(msg.payload))

    def _teardown(self) -> None:
        client, self._client = self._client, None
        self._connected.clear()
        if client is not None:
            client.disconnect()
            client.loop_stop()

    def close(self) -> None:
        self._teardown()
        self._state = ConnectionState.DISCONNECTED

    # -- delivery ---------------------------------------------------------------
    def _publish(self, topic_name: str, payload: bytes, retain: bool) -> int:
        client = self._client
        if client is None or not self._connected.is_set():
            raise TransportUnavailable(f"mqtt broker {self.host}:{self.port}: not connected")
        info = client.publish(topic_name, payload, qos=1, retain=retain)
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as exc:
            self._fail(f"publish failed: {exc}")
        if not info.is_published():
            self._fail("no PUBACK within timeout")
        return info.mid

    def _fail(self, why: str) -> None:
        self._teardown()
        self._state = ConnectionState.FAILED
        raise TransportUnavailable(f"mqtt broker {self.host}:{self.port}: {why}")

    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        if self._client is None or not self._connected.is_set():
            self.connect()  # fresh session; paho's own slow reconnect is not waited for
        payload = envelope(packet, idempotency_key)
        if self.retain_current:  # first: re-publishing a retained value on retry is harmless
            self._publish(self.current_topic, payload, retain=True)
        mid = self._publish(self.jobs_topic, payload, retain=False)
        with self._lock:
            self._job_states.setdefault(packet.job.job_order_id, JobState.ALLOWED_TO_START)
        return DeliveryReceipt(
            self.name, packet.job.job_order_id, idempotency_key, now_utc(), f"mid={mid}"
        )

    # -- state and start --------------------------------------------------------
    def read_state(self, job_id: str) -> JobState:
        with self._lock:
            return self._job_states.get(job_id, JobState.UNKNOWN)

    def _retained(self, topic_name: str, grace_s: float = 0.3) -> bytes | None:
        """Read a retained message: subscribe, wait for SUBACK, then a short grace."""
        client = self._client
        if client is None or not self._connected.is_set():
            raise TransportUnavailable(f"mqtt broker {self.host}:{self.port}: not connected")
        got: list[bytes] = []
        arrived = threading.Event()

        def on_msg(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            if msg.retain:
                got.append(bytes(msg.payload))
                arrived.set()

        client.message_callback_add(topic_name, on_msg)
        try:
            result, _mid = client.subscribe(topic_name, qos=1)
            if result != mqtt.MQTT_ERR_SUCCESS:
                self._fail(f"subscribe {topic_name} failed ({result})")
            arrived.wait(grace_s)
            client.unsubscribe(topic_name)
        finally:
            client.message_callback_remove(topic_name)
        return got[0] if got and got[0] else None

    def start(self, job_id: str) -> StartResult:
        """At most once across processes: the start command is retained per job on the
        broker, and an existing retained start (or a started status) means no resend."""
        state = self.read_state(job_id)
        if state in STARTED_STATES or state is JobState.ABORTED:
            return StartResult(job_id, False, state, "already started per status topic")
        if self._client is None or not self._connected.is_set():
            self.connect()  # fresh session; paho's own slow reconnect is not waited for
        if not job_id or any(c in job_id for c in "/#+"):
            raise DeliveryRejected(f"job_order_id {job_id!r} cannot be used in an MQTT topic")
        mark_topic = f"{self.command_topic}/{job_id}"
        if self._retained(mark_topic) is not None:
            return StartResult(job_id, False, state, "start already sent (retained mark)")
        cmd = {"command": "start", "job_order_id": job_id, "command_id": f"start:{job_id}"}
        self._publish(mark_topic, json.dumps(cmd).encode(), retain=True)
        return StartResult(job_id, True, state, "start command published")


def from_config(machine_id: str, config: Mapping[str, Any], site: SiteConfig) -> Transport:
    """The plant's broker, one topic per machine (the default transport)."""
    return MqttTransport(site.site, machine_id, host=site.mqtt_host, port=site.mqtt_port)
