"""A real asyncua client drives the ISA-95 job-control receiver (OPC 10031-4 style)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from asyncua.sync import Client
from mes_factories import make_job

from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryRejected,
    JobState,
    NotReady,
    Packet,
    TransportUnavailable,
)
from mes_bridge.transports.opcua import OpcUaTransport
from mes_bridge.transports.opcua_receiver import NAMESPACE, JobControlReceiver, ReturnStatus

pytestmark = pytest.mark.slow  # a real OPC UA server and client (and an outage of it)


@pytest.fixture(scope="module")
def receiver() -> Iterator[JobControlReceiver]:
    events: list[tuple[str, str, str]] = []
    rx = JobControlReceiver(on_state=lambda *e: events.append(e))
    rx.events = events  # type: ignore[attr-defined]
    rx.start()
    yield rx
    rx.stop()


@pytest.fixture
def transport(receiver) -> Iterator[OpcUaTransport]:
    t = OpcUaTransport(receiver.endpoint)
    t.connect()
    yield t
    t.close()


@pytest.fixture
def raw_client(receiver) -> Iterator[tuple[Client, object, int]]:
    """A plain asyncua client, as a shop-floor system would use."""
    client = Client(receiver.endpoint, timeout=5)
    client.connect()
    idx = client.get_namespace_index(NAMESPACE)
    yield client, client.nodes.objects.get_child([f"{idx}:JobControl"]), idx
    client.disconnect()


def test_store_then_start_and_the_floor_reports_progress(transport, raw_client, receiver):
    client, control, idx = raw_client
    p = Packet.from_job(make_job())
    jid = p.job.job_order_id
    transport.deliver(p, "k")
    assert transport.state is ConnectionState.CONNECTED
    assert transport.read_state(jid) is JobState.NOT_ALLOWED_TO_START
    assert receiver.stored_xml(jid) == p.xml.decode()
    state_node = control.get_child([f"{idx}:JobOrders", f"{idx}:{jid}", f"{idx}:State"])
    assert state_node.read_value() == "NotAllowedToStart"
    assert transport.start(jid).sent
    assert state_node.read_value() == "AllowedToStart"
    # the shop floor pulls it and reports
    assert control.call_method(f"{idx}:ReportState", jid, "Running") == 0
    assert control.call_method(f"{idx}:Pause", jid, "") == 0
    assert state_node.read_value() == "Interrupted"
    assert control.call_method(f"{idx}:Resume", jid, "") == 0
    assert control.call_method(f"{idx}:ReportState", jid, "Ended") == 0
    assert transport.read_state(jid) is JobState.ENDED
    assert control.call_method(f"{idx}:Clear", jid, "") == 0
    assert transport.read_state(jid) is JobState.UNKNOWN
    seen = [(old, new) for j, old, new in receiver.events if j == jid]
    assert seen == [
        ("", "NotAllowedToStart"),
        ("NotAllowedToStart", "AllowedToStart"),
        ("AllowedToStart", "Running"),
        ("Running", "Interrupted"),
        ("Interrupted", "Running"),
        ("Running", "Ended"),
        ("Ended", "Removed"),
    ]


def test_start_is_at_most_once(transport, receiver):
    p = Packet.from_job(make_job())
    jid = p.job.job_order_id
    with pytest.raises(NotReady):
        transport.start(jid)
    transport.deliver(p, "k")
    before = receiver.stats.calls["Start"]
    results = [transport.start(jid) for _ in range(3)]
    assert [r.sent for r in results] == [True, False, False]
    assert receiver.stats.calls["Start"] == before + 1


def test_store_is_idempotent_but_refuses_different_content(transport, receiver):
    job = make_job()
    transport.deliver(Packet.from_job(job), "k")
    transport.deliver(Packet.from_job(job), "k")
    changed = Packet.from_job(make_job(job_order_id=job.job_order_id, grams=1.0))
    with pytest.raises(DeliveryRejected, match="UNABLE_TO_ACCEPT"):
        transport.deliver(changed, "k2")
    assert receiver.job_ids().count(job.job_order_id) == 1


def test_store_and_start_abort_and_cancel(receiver, raw_client):
    _client, control, idx = raw_client
    t = OpcUaTransport(receiver.endpoint, store_and_start=True)
    a, b = Packet.from_job(make_job()), Packet.from_job(make_job())
    t.deliver(a, "a")
    assert receiver.state_of(a.job.job_order_id) == "AllowedToStart"
    assert t.call("Abort", a.job.job_order_id) is ReturnStatus.OK
    assert receiver.state_of(a.job.job_order_id) == "Aborted"
    t.deliver(b, "b")
    assert control.call_method(f"{idx}:Cancel", b.job.job_order_id, "planner") == 0
    assert receiver.state_of(b.job.job_order_id) is None
    t.close()


def test_invalid_commands_return_status_codes(raw_client, transport):
    _client, control, idx = raw_client
    assert control.call_method(f"{idx}:Start", "NO-SUCH-JOB", "") == 1
    assert control.call_method(f"{idx}:Store", "<not-b2mml/>", "") == 8
    assert control.call_method(f"{idx}:Store", "<<<", "") == 8
    p = Packet.from_job(make_job())
    transport.deliver(p, "k")
    jid = p.job.job_order_id
    assert control.call_method(f"{idx}:Resume", jid, "") == 2  # not interrupted
    assert control.call_method(f"{idx}:Clear", jid, "") == 2  # not ended
    assert control.call_method(f"{idx}:ReportState", jid, "Running") == 2  # not allowed yet
    assert control.call_method(f"{idx}:ReportState", jid, "Exploded") == 8


def test_unreachable_server_is_unavailable():
    t = OpcUaTransport("opc.tcp://127.0.0.1:9/hunar/", timeout_s=1)
    with pytest.raises(TransportUnavailable):
        t.connect()
    assert t.state is ConnectionState.FAILED


def test_floor_reports_become_status_events_through_the_gate(receiver):
    from datetime import UTC, datetime

    from mes_bridge.intake import EventGate, StatusEvent, opcua_transition_event

    t = OpcUaTransport(receiver.endpoint, store_and_start=True)
    p = Packet.from_job(make_job())
    jid = p.job.job_order_id
    t.deliver(p, "k")
    for state in ("Running", "Interrupted", "Running", "Ended"):
        assert t._call("ReportState", jid, state) is ReturnStatus.OK
    t.close()
    received = [e for e in receiver.events if e[0] == jid]
    gate = EventGate()
    now = datetime.now(UTC)
    events = [
        opcua_transition_event(j, old, new, now, i) for i, (j, old, new) in enumerate(received)
    ]
    assert events[0] is None  # stored: bookkeeping, not a floor event
    admitted = [gate.admit(e) for e in events if e is not None]
    assert [e.kind for e in admitted if isinstance(e, StatusEvent)] == [
        "started",
        "paused",
        "started",
        "completed",
    ]
    replay = gate.admit(events[-1])
    assert replay.code == "duplicate"


def test_receiver_outage_is_retryable_and_the_transport_reconnects():
    first = JobControlReceiver()
    first.start()
    t = OpcUaTransport(first.endpoint, timeout_s=2)
    t.deliver(Packet.from_job(make_job()), "a")
    first.stop()
    with pytest.raises(TransportUnavailable):
        t.deliver(Packet.from_job(make_job()), "b")
    assert t.state is ConnectionState.FAILED
    second = JobControlReceiver(port=first.port)
    second.start()
    try:
        p = Packet.from_job(make_job())
        t.deliver(p, "c")
        assert t.state is ConnectionState.CONNECTED
        assert second.job_ids() == [p.job.job_order_id]
    finally:
        t.close()
        second.stop()


def test_validating_receiver_refuses_schema_invalid_job_orders(b2mml_dir):
    import xml.etree.ElementTree as ET

    from mes_bridge.packets import B2MML_NS

    rx = JobControlReceiver(schema_dir=b2mml_dir)
    rx.start()
    try:
        t = OpcUaTransport(rx.endpoint)
        good = Packet.from_job(make_job())
        t.deliver(good, "good")
        root = ET.fromstring(Packet.from_job(make_job()).xml)
        ET.SubElement(root, f"{{{B2MML_NS}}}Bogus").text = "x"
        bad_xml = ET.tostring(root)
        bad = Packet(good.job, bad_xml, good.json_doc)
        with pytest.raises(DeliveryRejected, match="INVALID_REQUEST"):
            t.deliver(bad, "bad")
        t.close()
        assert rx.job_ids() == [good.job.job_order_id]
        assert rx.rejected and "Bogus" in rx.rejected[0]
    finally:
        rx.stop()
