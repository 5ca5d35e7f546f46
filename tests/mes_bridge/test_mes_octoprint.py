"""OctoPrint transport against a real OctoPrint with its virtual printer."""

from __future__ import annotations

import time

import httpx
import pytest
from mes_factories import make_job

from mes_bridge.transports.base import DeliveryRejected, JobState, NotReady, Packet
from mes_bridge.transports.octoprint import OctoPrintTransport

pytestmark = pytest.mark.slow  # starts a real OctoPrint (the session's peer)
GCODE = b"G28\nG1 X10 Y10 F3000\nG1 X20 Y20\nG1 X30 Y30\nM104 S0\n"


def wait_state(t: OctoPrintTransport, job_id: str, want: JobState, timeout_s: float = 30) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if t.read_state(job_id) is want:
            return
        time.sleep(0.2)
    raise AssertionError(f"{job_id} never reached {want}; last {t.read_state(job_id)}")


def test_upload_start_and_read_back(octoprint):
    job = make_job()
    packet = Packet.from_job(job, {"part.gcode": GCODE})
    with OctoPrintTransport(octoprint.url, octoprint.api_key) as t:
        with pytest.raises(NotReady):
            t.start(job.job_order_id)
        receipt = t.deliver(packet, "key-1")
        assert receipt.peer_ref == f"{job.job_order_id}.gcode" and not receipt.duplicate
        assert t.deliver(packet, "key-1").duplicate
        assert t.read_state(job.job_order_id) is JobState.ALLOWED_TO_START
        first = t.start(job.job_order_id)
        second = t.start(job.job_order_id)
        assert first.sent and not second.sent
        wait_state(t, job.job_order_id, JobState.ENDED)
        assert not t.start(job.job_order_id).sent
    info = httpx.get(
        f"{octoprint.url}/api/files/local/started/{job.job_order_id}.gcode",
        headers={"X-Api-Key": octoprint.api_key},
    ).json()
    assert info["prints"]["success"] + info["prints"]["failure"] == 1


def test_different_content_under_the_same_job_is_rejected(octoprint):
    job = make_job()
    with OctoPrintTransport(octoprint.url, octoprint.api_key) as t:
        t.deliver(Packet.from_job(job, {"a.gcode": GCODE}), "k")
        with pytest.raises(DeliveryRejected, match="different"):
            t.deliver(Packet.from_job(job, {"a.gcode": GCODE + b"G1 X1\n"}), "k2")


def test_packet_without_gcode_and_bad_api_key_are_rejected(octoprint):
    with OctoPrintTransport(octoprint.url, octoprint.api_key) as t:
        with pytest.raises(DeliveryRejected, match="gcode"):
            t.deliver(Packet.from_job(make_job(), {"part.stl": b"solid"}), "k")
    bad = OctoPrintTransport(octoprint.url, "WRONGKEY")
    with pytest.raises(DeliveryRejected, match="API key"):
        bad.deliver(Packet.from_job(make_job(), {"p.gcode": GCODE}), "k")
    bad.close()


def test_polled_progress_becomes_events(octoprint):
    from datetime import UTC, datetime

    from mes_bridge.intake import EventGate, StatusEvent, button_event, polled_state_event

    job = make_job()
    jid = job.job_order_id
    gate = EventGate()
    with OctoPrintTransport(octoprint.url, octoprint.api_key) as t:
        t.deliver(Packet.from_job(job, {"p.gcode": GCODE}), "k")
        assert t.progress(jid) == (JobState.ALLOWED_TO_START, None)
        assert t.start(jid).sent
        assert gate.admit(button_event(jid, "started", datetime.now(UTC), f"start:{jid}"))
        wait_state(t, jid, JobState.ENDED)
        state, pct = t.progress(jid)
    assert (state, pct) == (JobState.ENDED, 100.0)
    done = gate.admit(polled_state_event(jid, state.value, pct, datetime.now(UTC), "octoprint", 1))
    assert isinstance(done, StatusEvent) and done.kind == "completed"
    again = gate.admit(polled_state_event(jid, state.value, pct, datetime.now(UTC), "octoprint", 1))
    assert again.code == "duplicate"


def test_status_for_the_fleet_board_while_printing_and_idle(octoprint):
    """The fleet board reads every printer through `status()`: job, progress, temperatures."""
    from mes_bridge.transports.base import ConnectionState

    job = make_job()
    packet = Packet.from_job(job, {"part.gcode": GCODE * 40})
    with OctoPrintTransport(octoprint.url, octoprint.api_key, machine_id="octo-1") as t:
        t.deliver(packet, "key-status")
        t.start(job.job_order_id)
        seen = t.status()
        assert seen.machine_id == "octo-1" and seen.connection is ConnectionState.CONNECTED
        assert seen.read_at is not None
        if seen.job_state in (JobState.RUNNING, JobState.INTERRUPTED):
            assert seen.job_id == job.job_order_id
            assert seen.progress is None or 0 <= seen.progress <= 1
        end = time.monotonic() + 15  # temperatures appear with the printer's first report
        while seen.nozzle_c is None and time.monotonic() < end:
            time.sleep(0.5)
            seen = t.status()
        assert seen.nozzle_c is not None and seen.bed_c is not None, seen
        wait_state(t, job.job_order_id, JobState.ENDED)
        idle = t.status()
        assert idle.job_state is JobState.UNKNOWN and idle.error == ""
