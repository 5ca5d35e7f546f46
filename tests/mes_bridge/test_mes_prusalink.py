"""PrusaLink transport against the real PrusaLink 0.8.1 driving a virtual MK3S (see the peer).

The peer is the printer-side program from PyPI, in ``.venv-prusalink``; only the printer behind
its serial port is simulated (``prusalink_peer.VirtualMk3s``). Starts are counted by that printer
(each test G-code begins with ``M117 <job>``), requests by the loopback link in front of
PrusaLink, which also cuts the network and drops answers on demand.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from mes_factories import make_job
from prusalink_peer import PrusaLinkPeer, VirtualMk3s, start_prusalink

from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryRejected,
    JobState,
    NotReady,
    Packet,
    StartResult,
    Transport,
    TransportUnavailable,
    Unsupported,
)
from mes_bridge.transports.prusalink import PrusaLinkTransport, from_config
from mes_bridge.transports.registry import SiteConfig

# Real PrusaLink: ~10 s to boot (it waits 8 s for a USB printer), 11 s of refusing starts
# after each print ends, 20 s more after a power loss mid-print. About 70 s in all.
pytestmark = pytest.mark.slow


def gcode(job_id: str, seconds: float = 1.0) -> bytes:
    """A print of about ``seconds`` (G4 dwells), heating up and reporting M73 progress."""
    steps = max(2, int(seconds / 0.1))
    moves = "".join(
        f"M73 P{100 * i // steps} R{steps - i}\nG1 X{10 + i} Y10\nG4 P100\n" for i in range(steps)
    )
    return f"M117 {job_id}\nM104 S215\nM140 S60\nG28\n{moves}M104 S0\nM140 S0\n".encode()


def packet(job_id: str | None = None, seconds: float = 1.0) -> Packet:
    job = make_job(**({"job_order_id": job_id} if job_id else {}))
    return Packet.from_job(job, {"plate.gcode": gcode(job.job_order_id, seconds)})


@pytest.fixture(scope="module")
def peer() -> Iterator[PrusaLinkPeer]:
    """One real PrusaLink per module; its data dir must not be under /tmp (PrusaLink's rule)."""
    base = Path(tempfile.mkdtemp(prefix="hunar-prusalink-", dir="/var/tmp"))
    try:
        link = start_prusalink(base)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield link
    link.close()
    shutil.rmtree(base, ignore_errors=True)


def transport(peer: PrusaLinkPeer, **kw: str) -> PrusaLinkTransport:
    auth = kw or {"password": peer.password}
    return PrusaLinkTransport(peer.url, machine_id="mk3s-01", **auth)


@contextmanager
def connected(peer: PrusaLinkPeer, **kw: str) -> Iterator[PrusaLinkTransport]:
    t = transport(peer, **kw)
    t.connect()
    try:
        yield t
    finally:
        t.close()


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_when_idle(t: PrusaLinkTransport, job_id: str, timeout_s: float = 25.0) -> StartResult:
    """Retry NotReady as the dispatcher does: PrusaLink refuses starts for 11 s after a print."""
    end = time.monotonic() + timeout_s
    while True:
        try:
            return t.start(job_id)
        except NotReady:
            if time.monotonic() > end:
                raise
            time.sleep(0.5)


def test_upload_start_status_and_read_back(peer: PrusaLinkPeer) -> None:
    pkt = packet(seconds=2.5)
    jid = pkt.job.job_order_id
    with connected(peer) as t:
        assert t.state is ConnectionState.CONNECTED and t.storage() == "local"
        with pytest.raises(NotReady):
            t.start(jid)
        receipt = t.deliver(pkt, "key-1")
        assert receipt.peer_ref == f"local/{jid}.gcode" and not receipt.duplicate
        assert t.read_state(jid) is JobState.ALLOWED_TO_START
        assert peer.starts(jid) == 0  # the upload never prints
        first = start_when_idle(t, jid)
        second = t.start(jid)
        assert first.sent and first.state is JobState.RUNNING
        assert not second.sent and second.state is JobState.RUNNING
        wait_for(lambda: (t.status().nozzle_c or 0) >= 215, "nozzle at 215 C")
        live = t.status()
        assert (live.machine_id, live.job_id, live.job_state) == ("mk3s-01", jid, JobState.RUNNING)
        assert live.connection is ConnectionState.CONNECTED and live.error == ""
        assert live.progress is not None and 0 <= live.progress <= 1 and live.bed_c == 60
        # PrusaLink 0.8.1 polls M73 every 10 s, longer than these prints: no estimate yet.
        assert live.eta_s is None or live.eta_s >= 0
        with pytest.raises(Unsupported):
            t.exclude_object(jid, "enclosure A")
        t.pause(jid)
        wait_for(lambda: t.read_state(jid) is JobState.INTERRUPTED, f"{jid} paused")
        t.resume(jid)
        wait_for(lambda: t.read_state(jid) is JobState.RUNNING, f"{jid} resumed")
        wait_for(lambda: t.read_state(jid) is JobState.ENDED, f"{jid} ended")
        assert not t.start(jid).sent
        after = t.status()
        assert after.job_state is JobState.UNKNOWN and after.job_id == ""
    assert peer.starts(jid) == 1
    assert peer.link.authed("POST", f"/api/v1/files/local/{jid}.gcode") == 1


def test_duplicate_delivery_and_different_content(peer: PrusaLinkPeer) -> None:
    pkt = packet()
    with connected(peer) as t:
        t.deliver(pkt, "k1")
        again = t.deliver(pkt, "k1")
        assert again.duplicate and again.peer_ref == f"local/{pkt.job.job_order_id}.gcode"
        changed = Packet.from_job(pkt.job, {"plate.gcode": pkt.files["plate.gcode"] + b"G1 X1\n"})
        with pytest.raises(DeliveryRejected, match="different"):
            t.deliver(changed, "k2")
        same_size = pkt.files["plate.gcode"].replace(b"G28", b"G29")
        with pytest.raises(DeliveryRejected, match="different"):
            t.deliver(Packet.from_job(pkt.job, {"plate.gcode": same_size}), "k3")
        with pytest.raises(DeliveryRejected, match="gcode"):
            t.deliver(Packet.from_job(make_job(), {"part.stl": b"solid"}), "k4")


def test_bad_credentials_are_rejected_once_with_a_clear_message(peer: PrusaLinkPeer) -> None:
    pkt = packet()
    path = f"/api/v1/files/local/{pkt.job.job_order_id}.gcode"
    bad = transport(peer, password="not-it", storage="local")
    with pytest.raises(DeliveryRejected, match="user 'maker' and password.*not retried"):
        bad.deliver(pkt, "k")
    bad.close()
    assert peer.link.authed("PUT", path) == 1  # one digest answer, refused, never resent
    bad_key = transport(peer, api_key="not-the-key", storage="local")
    with pytest.raises(DeliveryRejected, match="API key"):
        bad_key.deliver(pkt, "k")
    bad_key.close()
    with connected(peer, api_key=peer.api_key) as by_key:  # older firmware: X-Api-Key
        assert not by_key.deliver(pkt, "k").duplicate
        assert by_key.read_state(pkt.job.job_order_id) is JobState.ALLOWED_TO_START


def test_start_only_when_idle_and_cancel(peer: PrusaLinkPeer) -> None:
    a, b = packet(seconds=3.0), packet()
    ja, jb = a.job.job_order_id, b.job.job_order_id
    with connected(peer) as t:
        t.deliver(a, "ka")
        t.deliver(b, "kb")
        assert start_when_idle(t, ja).sent
        with pytest.raises(NotReady, match="PRINTING"):
            t.start(jb)
        t.cancel(ja)
        wait_for(lambda: t.read_state(ja) is JobState.ABORTED, f"{ja} stopped")
        with pytest.raises(NotReady):  # PrusaLink holds STOPPED a while and refuses, 409
            t.start(jb)
        assert t.read_state(jb) is JobState.ALLOWED_TO_START  # a refused start leaves no mark
        assert not t.start(ja).sent
        with pytest.raises(NotReady, match="not the printer's current job"):
            t.cancel(ja)
    assert (peer.starts(ja), peer.starts(jb)) == (1, 0)


def test_drill_printer_reboot_mid_job(peer: PrusaLinkPeer) -> None:
    pkt = packet(seconds=3.0)
    jid = pkt.job.job_order_id
    with connected(peer) as t:
        t.deliver(pkt, "k")
        assert start_when_idle(t, jid).sent
        assert t.read_state(jid) is JobState.RUNNING
        peer.reboot()
        assert t.read_state(jid) is JobState.ABORTED  # the print died with the printer
        again = t.start(jid)
        assert not again.sent and again.state is JobState.ABORTED
        assert t.deliver(pkt, "k").duplicate  # files survive the reboot
        assert t.status().connection is ConnectionState.CONNECTED
    assert peer.starts(jid) == 1


def ended_after_reconnect(t: PrusaLinkTransport, jid: str, timeout_s: float = 60.0) -> None:
    """Wait for the job to read ENDED once the link is back; PrusaLink reconnects slowly on a
    loaded machine, so a read may still fail for a while. The states seen are in the failure."""
    seen: list[str] = []

    def ended() -> bool:
        try:
            state = t.read_state(jid)
        except TransportUnavailable as exc:
            seen.append(f"unavailable: {str(exc)[:60]}")
            return False
        seen.append(state.value)
        return state is JobState.ENDED

    try:
        wait_for(ended, f"{jid} ended", timeout_s)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; states seen: {sorted(set(seen))}") from None


def test_drill_unanswered_start_then_network_loss_mid_job(peer: PrusaLinkPeer) -> None:
    pkt = packet(seconds=2.5)
    jid = pkt.job.job_order_id
    post = f"/api/v1/files/local/{jid}.gcode"
    with connected(peer) as t:
        t.deliver(pkt, "k")
        peer.link.drop_answer_once("POST", post)
        try:
            first = start_when_idle(t, jid)
            assert first.sent and "unanswered" in first.detail
        except TransportUnavailable as exc:
            assert "marked as started" in str(exc)
        second = t.start(jid)
        assert not second.sent and second.state is JobState.RUNNING
        peer.link.lose_network()
        try:
            with pytest.raises(TransportUnavailable):
                t.start(jid)
            with pytest.raises(TransportUnavailable):
                t.read_state(jid)
            down = t.status()
            assert down.connection is ConnectionState.FAILED and down.error
        finally:
            peer.link.restore_network()
        ended_after_reconnect(t, jid)
        assert not t.start(jid).sent
    assert peer.link.authed("POST", post) == 1 and peer.starts(jid) == 1


def test_from_config() -> None:
    site = SiteConfig("s", "127.0.0.1", 1883, "opc.tcp://x", Path("/nonexistent"))
    assert from_config("m", {}, site) is None
    assert from_config("m", {"url": "http://printer"}, site) is None
    assert from_config("m", {"password": "p"}, site) is None
    made = from_config("m", {"url": "http://printer/", "password": "p", "storage": "usb"}, site)
    assert isinstance(made, PrusaLinkTransport)
    assert (made.url, made.user, made.storage(), made.machine_id) == (
        "http://printer",
        "maker",
        "usb",
        "m",
    )
    assert isinstance(from_config("m", {"url": "http://p", "api_key": "k"}, site), Transport)


def test_virtual_printer_stops_its_threads_before_its_pty_closes() -> None:
    """A CI run lost a later test's template to this: the pty's descriptor number, closed under
    a live reader, was reused by Jinja's open() and drained."""
    printer = VirtualMk3s()
    printer.close()
    assert not any(thread.is_alive() for thread in printer._threads)
    with tempfile.TemporaryFile() as reused:
        reused.write(b"x" * 100)
        time.sleep(1.2)  # longer than both loops' waits
        reused.seek(0)
        assert reused.read() == b"x" * 100
