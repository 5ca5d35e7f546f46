"""MQTT transport against the real Mosquitto broker with a real subscriber."""

from __future__ import annotations

import json
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from mes_factories import make_job

from mes_bridge.intake import StatusEvent, parse_mqtt
from mes_bridge.transports.base import (
    ConnectionState,
    JobState,
    Packet,
    TransportUnavailable,
)
from mes_bridge.transports.mqtt import MqttTransport, topic
from mes_bridge.transports.mqtt_listener import MqttJobListener


def site() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def publish_status(host: str, port: int, topic_name: str, doc: dict) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(host, port)
    client.loop_start()
    client.publish(topic_name, json.dumps(doc), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def test_packets_reach_a_subscriber_once_each_with_b2mml(mqtt_broker):
    host, port = mqtt_broker
    s = site()
    listener = MqttJobListener(topic(s, "mk4-01", "jobs"), f"sub-{s}", host, port, False)
    listener.start()
    transport = MqttTransport(s, "mk4-01", host, port)
    try:
        transport.connect()
        assert transport.state is ConnectionState.CONNECTED
        keys = [f"k{i}" for i in range(20)]
        for key in keys:
            receipt = transport.deliver(Packet.from_job(make_job()), key)
            assert receipt.idempotency_key == key
        assert listener.wait_for(20, timeout_s=10)
        assert listener.received.by_key == {k: 1 for k in keys}
        assert listener.received.duplicates == 0
    finally:
        transport.close()
        listener.stop()


def test_current_job_is_retained_for_late_joiners(mqtt_broker):
    host, port = mqtt_broker
    s = site()
    job = make_job()
    with MqttTransport(s, "mk4-02", host, port) as transport:
        transport.deliver(Packet.from_job(job), "key-current")
    late = MqttJobListener(topic(s, "mk4-02", "current"), f"late-{s}", host, port, False)
    late.start()
    try:
        assert late.wait_for(1, timeout_s=5)
        assert list(late.received.by_key) == ["key-current"]
    finally:
        late.stop()
        publish_clear = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        publish_clear.connect(host, port)
        publish_clear.loop_start()
        publish_clear.publish(
            topic(s, "mk4-02", "current"), b"", qos=1, retain=True
        ).wait_for_publish(5)
        publish_clear.disconnect()
        publish_clear.loop_stop()


def test_status_topic_feeds_state_intake_and_at_most_once_start(mqtt_broker):
    host, port = mqtt_broker
    s = site()
    got = threading.Event()
    events: list[StatusEvent] = []

    def on_status(topic_name: str, payload: bytes) -> None:
        result = parse_mqtt(topic_name, payload)
        if isinstance(result, StatusEvent):
            events.append(result)
            got.set()

    commands_filter = topic(s, "mk4-03", "commands") + "/#"
    commands = MqttJobListener(commands_filter, f"cmd-{s}", host, port, False)
    commands.start()
    job = make_job()
    try:
        with MqttTransport(s, "mk4-03", host, port, on_status=on_status) as transport:
            transport.deliver(Packet.from_job(job), "k")
            assert transport.read_state(job.job_order_id) is JobState.ALLOWED_TO_START
            assert transport.start(job.job_order_id).sent
            assert not transport.start(job.job_order_id).sent  # retained mark seen
            status = {
                "job_order_id": job.job_order_id,
                "kind": "started",
                "event_id": "ev-1",
                "at": job.scheduled_start.isoformat(),
            }
            publish_status(host, port, topic(s, "mk4-03", "status"), status)
            assert got.wait(5)
            assert transport.read_state(job.job_order_id) is JobState.RUNNING
            assert events[0].machine_id == "mk4-03" and events[0].kind == "started"
        # a fresh process knows nothing locally, yet must not start the job again
        with MqttTransport(s, "mk4-03", host, port) as fresh:
            assert fresh.read_state(job.job_order_id) is JobState.UNKNOWN
            again = fresh.start(job.job_order_id)
            assert not again.sent and "retained" in again.detail
    finally:
        commands.stop()
        clear = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        clear.connect(host, port)
        clear.loop_start()
        mark = topic(s, "mk4-03", "commands") + f"/{job.job_order_id}"
        clear.publish(mark, b"", qos=1, retain=True).wait_for_publish(5)
        clear.disconnect()
        clear.loop_stop()
    assert commands.received.raw == 1  # exactly one start command went on the wire


def test_broker_unreachable_is_unavailable_and_failed():
    transport = MqttTransport("s", "m", "127.0.0.1", 9, timeout_s=1)
    with pytest.raises(TransportUnavailable, match="127.0.0.1:9"):
        transport.deliver(Packet.from_job(make_job()), "k")
    assert transport.state is ConnectionState.FAILED


@pytest.mark.parametrize("bad", ["", "a/b", "#", "+"])
def test_topic_parts_are_validated(bad):
    with pytest.raises(ValueError):
        topic(bad, "m", "jobs")
