"""Moonraker transport against a PROTOCOL STAND-IN, not a real Moonraker/Klipper.

Klipper and Moonraker cannot be installed from any registry reachable here, so
``moonraker_standin.py`` implements Moonraker's published HTTP and websocket API (file
upload with SHA-256 check, metadata, printer objects, print start/pause/resume/cancel,
EXCLUDE_OBJECT, job history persisted in its data dir) over a simulated print. What it
does not cover is listed in its docstring; a real printer may differ there.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mes_factories import make_job
from moonraker_standin import MoonrakerStandIn

from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryRejected,
    JobState,
    NotReady,
    Packet,
    TransportUnavailable,
)
from mes_bridge.transports.moonraker import MoonrakerTransport, from_config
from mes_bridge.transports.registry import SiteConfig, make_transport

KEY = "standin-key"


def plate_gcode(
    objects: tuple[str, ...] = ("OL-1", "OL-2"), layers: int = 30, salt: str = ""
) -> bytes:
    """A small sliced plate: objects declared for exclude_object, then printed layer by layer."""
    head = ["; filament_type = PETG", "M140 S60", "M104 S215", f"; {salt}"]
    head += [f"EXCLUDE_OBJECT_DEFINE NAME={o} CENTER=10,10" for o in objects]
    body = []
    for layer in range(layers):
        for o in objects:
            body += [
                f"EXCLUDE_OBJECT_START NAME={o}",
                f"G1 X{layer} Y1 E0.1",
                f"EXCLUDE_OBJECT_END NAME={o}",
            ]
    return "\n".join([*head, *body, "M104 S0", "M140 S0", ""]).encode()


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[MoonrakerStandIn]:
    standin = MoonrakerStandIn(tmp_path / "moonraker", api_key=KEY, print_s=1.0).start()
    yield standin
    standin.close()


def transport(p: MoonrakerStandIn, **kw: float) -> MoonrakerTransport:
    opts = {"timeout_s": 3.0, "confirm_s": 3.0, "poll_s": 0.05, **kw}
    return MoonrakerTransport(p.url, KEY, machine_id="vcore-01", **opts)


def wait_for(predicate, what: str, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def readable(call) -> bool:
    try:
        call()
    except TransportUnavailable:
        return False
    return True


def delivered(t: MoonrakerTransport, gcode: bytes | None = None) -> str:
    job = make_job()
    t.deliver(
        Packet.from_job(job, {"plate.gcode": gcode or plate_gcode()}), f"k-{job.job_order_id}"
    )
    return job.job_order_id


def test_upload_start_and_read_back(printer):
    job = make_job()
    jid, gcode = job.job_order_id, plate_gcode()
    with transport(printer) as t:
        with pytest.raises(NotReady):
            t.start(jid)
        assert t.read_state(jid) is JobState.NOT_ALLOWED_TO_START
        receipt = t.deliver(Packet.from_job(job, {"plate.gcode": gcode}), "key-1")
        assert receipt.peer_ref == f"{jid}.gcode" and not receipt.duplicate
        assert printer.uploads == [
            {"root": "gcodes", "checksum": hashlib.sha256(gcode).hexdigest()}
        ]  # no print=true: the upload never starts a print
        assert t.read_state(jid) is JobState.ALLOWED_TO_START
        assert printer.print_stats()["state"] == "standby"
        first = t.start(jid)
        assert first.sent and first.state is JobState.RUNNING
        assert not t.start(jid).sent
        wait_for(lambda: t.read_state(jid) is JobState.ENDED, "print ended")
        assert not t.start(jid).sent
        assert t.progress(jid) == (JobState.ENDED, 100.0)
    assert (printer.gcodes / f"{jid}.gcode").read_bytes() == gcode
    assert printer.start_requests[f"{jid}.gcode"] == 1
    assert [h["status"] for h in printer.history()] == ["completed"]


def test_duplicate_and_different_content_and_bad_key(printer):
    job = make_job()
    with transport(printer) as t:
        t.deliver(Packet.from_job(job, {"a.gcode": plate_gcode()}), "k")
        assert t.deliver(Packet.from_job(job, {"a.gcode": plate_gcode()}), "k").duplicate
        assert len(printer.uploads) == 1
        with pytest.raises(DeliveryRejected, match="different"):
            t.deliver(Packet.from_job(job, {"a.gcode": plate_gcode(salt="v2")}), "k2")
        with pytest.raises(DeliveryRejected, match="gcode"):
            t.deliver(Packet.from_job(make_job(), {"part.stl": b"solid"}), "k3")
    assert len(printer.uploads) == 1
    bad = MoonrakerTransport(printer.url, "WRONG", timeout_s=3)
    with pytest.raises(DeliveryRejected, match="401"):
        bad.deliver(Packet.from_job(make_job(), {"p.gcode": plate_gcode()}), "k")
    bad.close()


def test_start_only_when_idle(printer):
    with transport(printer) as t:
        a, b = delivered(t), delivered(t)
        assert t.start(a).sent
        with pytest.raises(NotReady, match="busy"):
            t.start(b)
        assert printer.start_requests[f"{b}.gcode"] == 0
        assert t.read_state(b) is JobState.ALLOWED_TO_START
        wait_for(lambda: t.read_state(a) is JobState.ENDED, "first print ended")
        assert t.start(b).sent  # complete counts as idle
    assert sum(printer.start_requests.values()) == 2


def test_pause_resume_cancel_only_touch_their_own_job(printer):
    with transport(printer) as t:
        a, other = delivered(t), delivered(t)
        t.start(a)
        with pytest.raises(DeliveryRejected, match="cannot cancel"):
            t.cancel(other)
        t.pause(a)
        wait_for(lambda: t.read_state(a) is JobState.INTERRUPTED, "paused")
        t.resume(a)
        assert t.read_state(a) is JobState.RUNNING
        t.cancel(a)
        assert t.read_state(a) is JobState.ABORTED
        t.cancel(a)  # already aborted: nothing to do
        assert not t.start(a).sent
    assert [h["status"] for h in printer.history()] == ["cancelled"]


def test_exclude_one_object_while_the_others_go_on(printer):
    objects = ("OL-1", "OL-2", "OL-3")
    with transport(printer) as t:
        jid = delivered(t, plate_gcode(objects, layers=60))
        name = f"{jid}.gcode"
        with pytest.raises(DeliveryRejected, match="cannot exclude"):
            t.exclude_object(jid, "OL-2")  # not printing yet
        t.start(jid)
        wait_for(lambda: printer.object_moves.get(name, {}).get("OL-2", 0) > 3, "OL-2 printing")
        for bad in ("OL-2\nM112", "OL 2", "OL-2;", "", "x" * 65):
            with pytest.raises(DeliveryRejected, match="not"):
                t.exclude_object(jid, bad)
        with pytest.raises(DeliveryRejected, match="no object"):
            t.exclude_object(jid, "OL-9")
        assert printer.scripts == []  # nothing unvalidated reached G-code
        t.exclude_object(jid, "ol-2")  # Klipper upper-cases object names
        t.exclude_object(jid, "OL-2")  # already excluded: no second command
        frozen = printer.object_moves[name]["OL-2"]
        wait_for(lambda: t.read_state(jid) is JobState.ENDED, "plate ended")
    moves = printer.object_moves[name]
    assert printer.scripts == ["EXCLUDE_OBJECT NAME=OL-2"]
    assert moves["OL-2"] == frozen < 60
    assert moves["OL-1"] == moves["OL-3"] == 60


def test_status_comes_from_the_websocket_subscription(printer):
    with transport(printer) as t:
        idle = t.status()
        assert (idle.connection, idle.job_state, idle.job_id) == (
            ConnectionState.CONNECTED,
            JobState.UNKNOWN,
            "",
        )
        jid = delivered(t)
        t.start(jid)
        wait_for(lambda: 0.2 < (t.status().progress or 0) < 0.9, "progress mid-print")
        s = t.status()
        assert s.machine_id == "vcore-01" and s.job_id == jid
        assert s.job_state is JobState.RUNNING and s.eta_s is not None and s.eta_s > 0
        assert s.nozzle_c is not None and s.nozzle_c > 100 and s.bed_c is not None and s.bed_c > 40
        assert s.material == "PETG" and s.error == "" and s.read_at is not None
        assert t._feed is not None and (pushed := t._feed.updates) > 0  # deltas, not polls
        wait_for(lambda: t.status().job_state is JobState.ENDED, "ended on the board")
        assert t.status().progress == 1.0 and t._feed.updates > pushed
    assert printer.subscriptions == 1


def test_uncertain_start_is_reconciled_never_resent(printer):
    with transport(printer, confirm_s=1.0) as t:
        jid = delivered(t)
        printer.lose_next_start = "answer"  # Klipper starts, the HTTP answer is lost
        first = t.start(jid)
        assert first.sent and first.state is JobState.RUNNING and "lost" in first.detail
        second = t.start(jid)
        assert not second.sent
        # worse: the answer is lost and the printer drops off the network right after
        other = delivered(t)
        wait_for(lambda: t.read_state(jid) is JobState.ENDED, "first print ended")
        printer.lose_next_start = "network"
        with pytest.raises(TransportUnavailable, match="uncertain"):
            t.start(other)
        printer.network_up()
        again = t.start(other)
        assert not again.sent and again.state in (JobState.RUNNING, JobState.ENDED)
    assert printer.start_requests == {f"{jid}.gcode": 1, f"{other}.gcode": 1}


@pytest.mark.slow
def test_drill_reboot_and_network_loss_mid_job(tmp_path):
    """Power cut in one print, network loss in the next: nothing starts twice, status heals."""
    printer = MoonrakerStandIn(tmp_path / "moonraker", api_key=KEY, print_s=2.0).start()
    try:
        with transport(printer) as t:
            a, b = delivered(t), delivered(t)
            assert t.start(a).sent
            assert t.status().job_id == a
            wait_for(lambda: printer.print_stats()["print_duration"] > 0.5, "a half-way")
            printer.power_off()
            with pytest.raises(TransportUnavailable):
                t.start(a)
            lost = ConnectionState.FAILED
            wait_for(lambda: t.status().connection is lost, "board shows the printer lost", 3)
            printer.power_on()  # Klippy answers 503 while it starts up
            wait_for(lambda: readable(lambda: t.read_state(a)), "moonraker back")
            assert t.read_state(a) is JobState.ABORTED  # history: interrupted, from disk
            assert not t.start(a).sent
            assert t.read_state(b) is JobState.ALLOWED_TO_START
            wait_for(lambda: t.status().error == "", "klippy ready again")
            assert t.start(b).sent
            wait_for(lambda: printer.print_stats()["print_duration"] > 0.5, "b half-way")
            printer.network_down()
            for call in (lambda: t.start(b), lambda: t.read_state(b)):
                with pytest.raises(TransportUnavailable):
                    call()
            time.sleep(0.5)
            printer.network_up()
            assert not t.start(b).sent
            wait_for(lambda: t.status().job_state is JobState.ENDED, "board shows b ended")
            final = t.status()
            assert (final.job_id, final.progress, final.connection) == (
                b,
                1.0,
                ConnectionState.CONNECTED,
            )
            assert t.read_state(b) is JobState.ENDED and t.read_state(a) is JobState.ABORTED
            assert t._feed is not None and t._feed.sessions >= 3  # re-subscribed after each loss
        assert printer.start_requests == {f"{a}.gcode": 1, f"{b}.gcode": 1}
        assert [(h["filename"], h["status"]) for h in printer.history()] == [
            (f"{a}.gcode", "interrupted"),
            (f"{b}.gcode", "completed"),
        ]
    finally:
        printer.close()


def test_from_config_and_registry(tmp_path):
    site = SiteConfig("s", "127.0.0.1", 1883, "opc.tcp://x", tmp_path)
    assert from_config("m1", {}, site) is None
    made = make_transport("moonraker", "m1", {"url": "http://10.0.0.5:7125/", "api_key": "k"}, site)
    assert isinstance(made, MoonrakerTransport)
    assert (made.url, made.headers, made.machine_id) == (
        "http://10.0.0.5:7125",
        {"X-Api-Key": "k"},
        "m1",
    )
    assert MoonrakerTransport("http://h").headers == {}
