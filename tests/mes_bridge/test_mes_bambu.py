"""Bambu LAN transport over a real TLS Mosquitto and a real implicit-FTPS server.

The wire is real (MQTT over TLS with a password file, FTPS with implicit TLS); the printer is a
STAND-IN (``bambu_peer.PrinterStandIn``) written from the community-published LAN protocol,
because Bambu firmware cannot run here. What these tests prove is the transport's behaviour
against that protocol as published, not against a real printer.
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bambu_peer import FtpsServer, PrinterStandIn, TlsMosquitto, make_certs
from mes_factories import make_job
from mes_mosquitto_peer import free_port

from mes_bridge.transports import registry
from mes_bridge.transports.bambu import BambuTransport, from_config
from mes_bridge.transports.bambu_files import file_name, objects_in, package
from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryRejected,
    JobState,
    NotReady,
    Packet,
    TransportUnavailable,
)

pytestmark = pytest.mark.slow  # starts Mosquitto and an FTPS server, runs simulated prints
ACCESS_CODE = "12345678"
GCODE = b"G28\nG1 X10 Y10 F3000\nG1 X20 Y20\nM104 S0\n"


@dataclass
class Site:
    broker: TlsMosquitto
    ftps: FtpsServer
    ftps_port: int
    ca: Path
    sd: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("bambu")
    sd = work / "sdcard"
    sd.mkdir()
    certs = make_certs(work, "01P00A000000001")
    broker = TlsMosquitto(free_port(), work, certs, "bblp", ACCESS_CODE)
    broker.start()
    ftps_port = free_port()
    ftps = FtpsServer(ftps_port, sd, "bblp", ACCESS_CODE, certs)
    yield Site(broker, ftps, ftps_port, certs.ca, sd)
    ftps.stop()
    broker.stop()


@pytest.fixture
def printer(site: Site) -> Iterator[PrinterStandIn]:
    serial = f"01P{uuid.uuid4().hex[:10].upper()}"
    p = PrinterStandIn(serial, site.broker.port, ACCESS_CODE, site.ca, site.sd)
    yield p
    p.close()


def transport(site: Site, printer: PrinterStandIn, **kw: float) -> BambuTransport:
    kw.setdefault("timeout_s", 3.0)
    kw.setdefault("confirm_timeout_s", 3.0)
    t = BambuTransport(
        "x1-01",
        "127.0.0.1",
        printer.serial,
        ACCESS_CODE,
        mqtt_port=site.broker.port,
        ftps_port=site.ftps_port,
        ca_file=str(site.ca),
        **kw,
    )
    t.connect()
    return t


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_upload_start_and_read_back(site: Site, printer: PrinterStandIn) -> None:
    job = make_job()
    jid = job.job_order_id
    with transport(site, printer) as t:
        receipt = t.deliver(Packet.from_job(job, {"part.gcode": GCODE}), "k1")
        assert receipt.peer_ref == f"{jid}.gcode.3mf" and not receipt.duplicate
        assert printer.project_files() == []  # upload never starts a print
        assert t.read_state(jid) is JobState.ALLOWED_TO_START
        first = t.start(jid)
        assert first.sent and first.state is JobState.RUNNING
        assert not t.start(jid).sent
        wait_for(lambda: t.read_state(jid) is JobState.ENDED, "the print to finish")
        assert not t.start(jid).sent
    [cmd] = printer.project_files()
    assert cmd["url"] == f"file:///sdcard/started/{jid}.gcode.3mf"
    assert (cmd["param"], cmd["subtask_name"]) == ("Metadata/plate_1.gcode", jid)
    with zipfile.ZipFile(site.sd / "started" / f"{jid}.gcode.3mf") as zf:
        assert zf.read("Metadata/plate_1.gcode") == GCODE
        md5 = zf.read("Metadata/plate_1.gcode.md5").decode()
        assert md5 == hashlib.md5(GCODE).hexdigest().upper()
        assert "[Content_Types].xml" in zf.namelist()
    assert printer.started == [jid]


def test_package_lists_plate_objects_and_is_deterministic() -> None:
    job = make_job()
    data = package(job, GCODE)
    assert data == package(job, GCODE)
    assert objects_in(data) == {"OL-1": 1, "OL-2": 2}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert b'label_object_enabled" value="true"' in zf.read("Metadata/slice_info.config")


def test_duplicate_and_different_content(site: Site, printer: PrinterStandIn) -> None:
    job = make_job()
    with transport(site, printer) as t:
        t.deliver(Packet.from_job(job, {"a.gcode": GCODE}), "k")
        again = t.deliver(Packet.from_job(job, {"a.gcode": GCODE}), "k")
        assert again.duplicate and again.peer_ref == file_name(job.job_order_id)
        with pytest.raises(DeliveryRejected, match="different"):
            t.deliver(Packet.from_job(job, {"a.gcode": GCODE + b"G1 X1\n"}), "k2")
        with pytest.raises(DeliveryRejected, match="gcode"):
            t.deliver(Packet.from_job(make_job(), {"a.stl": b"solid"}), "k3")
    assert (site.sd / file_name(job.job_order_id)).read_bytes() == package(job, GCODE)


def test_start_before_delivery_is_not_ready(site: Site, printer: PrinterStandIn) -> None:
    with transport(site, printer) as t:
        with pytest.raises(NotReady):
            t.start(make_job().job_order_id)
    assert printer.project_files() == []


def test_start_only_when_the_printer_is_idle(site: Site, printer: PrinterStandIn) -> None:
    a, b = make_job(), make_job()
    with transport(site, printer) as t:
        for job in (a, b):
            t.deliver(Packet.from_job(job, {"p.gcode": GCODE}), "k")
        assert t.start(a.job_order_id).sent
        with pytest.raises(NotReady, match="busy"):
            t.start(b.job_order_id)
        assert t.read_state(b.job_order_id) is JobState.ALLOWED_TO_START
        wait_for(lambda: t.read_state(a.job_order_id) is JobState.ENDED, "job A to end")
        assert t.start(b.job_order_id).sent
    assert [c["subtask_name"] for c in printer.project_files()] == [a.job_order_id, b.job_order_id]


def test_skip_one_object_while_the_print_continues(site: Site, printer: PrinterStandIn) -> None:
    printer.run_s = 3.0
    job = make_job()
    jid = job.job_order_id
    with transport(site, printer) as t:
        t.deliver(Packet.from_job(job, {"p.gcode": GCODE}), "k")
        t.start(jid)
        wait_for(lambda: t.status().job_state is JobState.RUNNING, "RUNNING")
        t.exclude_object(jid, "OL-2")
        assert printer.state["s_obj"] == [2]
        assert t.read_state(jid) is JobState.RUNNING  # the other object goes on printing
        with pytest.raises(DeliveryRejected, match="no object"):
            t.exclude_object(jid, "OL-99")
        skips = [c for c in printer.commands if c.get("command") == "skip_objects"]
        assert [c["obj_list"] for c in skips] == [[2]]
        wait_for(lambda: t.read_state(jid) is JobState.ENDED, "the print to finish")
        with pytest.raises(DeliveryRejected, match="not the running job"):
            t.exclude_object(jid, "OL-1")


def test_status_merges_deltas_after_pushall(site: Site, printer: PrinterStandIn) -> None:
    job = make_job()
    jid = job.job_order_id
    with transport(site, printer) as t:
        t.deliver(Packet.from_job(job, {"p.gcode": GCODE}), "k")
        t.start(jid)
        wait_for(lambda: printer.state["mc_percent"] >= 30, "progress")
        late = transport(site, printer)  # joins mid-job: only its pushall brings the full state
        try:
            status = late.status()
        finally:
            late.close()
    assert status.connection is ConnectionState.CONNECTED and status.job_id == jid
    assert status.nozzle_c == 220.0 and status.bed_c == 60.0
    assert status.progress is not None and 0.0 < status.progress <= 1.0
    assert status.eta_s is not None and status.monitor_only == ""
    deltas = [r for r in printer.reports if r.get("msg") == 1]
    assert deltas and any("nozzle_temper" not in r for r in deltas)  # really delta-only


def test_authorization_control_makes_it_monitor_only(site: Site, printer: PrinterStandIn) -> None:
    printer.enforce_auth = True
    job = make_job()
    jid = job.job_order_id
    with transport(site, printer) as t:
        t.deliver(Packet.from_job(job, {"p.gcode": GCODE}), "k")
        with pytest.raises(DeliveryRejected, match="Authorization Control"):
            t.start(jid)
        status = t.status()
        assert "Developer Mode" in status.monitor_only and "Bambu Connect" in status.monitor_only
        assert status.connection is ConnectionState.CONNECTED and status.bed_c == 23.0
        sent = len(printer.commands)
        for refused in (
            lambda: t.start(jid),
            lambda: t.cancel(jid),
            lambda: t.exclude_object(jid, "OL-1"),
        ):
            with pytest.raises(DeliveryRejected, match="monitor only"):
                refused()
        assert len(printer.commands) == sent  # nothing more was sent
        assert t.read_state(jid) is JobState.ALLOWED_TO_START  # the refused start left no mark
    assert printer.started == [] and printer.state["gcode_state"] == "IDLE"


def test_drill_reboot_and_network_loss(site: Site, printer: PrinterStandIn) -> None:
    printer.run_s = 2.5
    a, b = make_job(), make_job()
    with transport(site, printer, timeout_s=2.0) as t:
        for job in (a, b):
            t.deliver(Packet.from_job(job, {"p.gcode": GCODE}), "k")
        assert t.start(a.job_order_id).sent
        printer.reboot()  # mid-job power cycle: the job is lost
        printer.wait_up()
        again = t.start(a.job_order_id)
        assert not again.sent and again.state is JobState.ABORTED
        assert t.start(b.job_order_id).sent
        site.broker.stop()  # network loss mid-job
        with pytest.raises(TransportUnavailable):
            t.start(b.job_order_id)
        assert t.status().connection is ConnectionState.FAILED
        site.broker.start()
        printer.wait_up()
        wait_for(lambda: t.read_state(b.job_order_id) is JobState.ENDED, "B ended", 15)
        assert not t.start(b.job_order_id).sent
        assert not t.start(a.job_order_id).sent
    assert [c["subtask_name"] for c in printer.project_files()] == [a.job_order_id, b.job_order_id]


def test_uncertain_start_is_never_resent(site: Site, printer: PrinterStandIn) -> None:
    printer.swallow_starts = True
    job = make_job()
    jid = job.job_order_id
    with transport(site, printer, confirm_timeout_s=1.0) as t:
        t.deliver(Packet.from_job(job, {"p.gcode": GCODE}), "k")
        with pytest.raises(TransportUnavailable, match="not resent|never resent"):
            t.start(jid)
        second = t.start(jid)
    assert not second.sent and "not resent" in second.detail
    assert len(printer.project_files()) == 1


def test_from_config_and_registry(tmp_path: Path) -> None:
    site = registry.SiteConfig("plant", "127.0.0.1", 1883, "opc.tcp://x", tmp_path)
    assert from_config("m", {"host": "10.0.0.5", "serial": "01P"}, site) is None
    made = from_config(
        "m", {"host": "10.0.0.5", "serial": "01P", "access_code": "1", "mqtt_port": 18883}, site
    )
    assert isinstance(made, BambuTransport) and made.mqtt_port == 18883
    assert made.files.port == 990 and made.request_topic == "device/01P/request"
    full = {"host": "h", "serial": "s", "access_code": "c"}
    assert registry.make_transport("bambu", "m", full, site).name == "bambu"
    assert registry.make_transport("bambu", "m", {}, site).name == "mqtt"


def test_wrong_access_code_is_rejected(site: Site, printer: PrinterStandIn) -> None:
    wrong = BambuTransport(
        "x1-01",
        "127.0.0.1",
        printer.serial,
        "00000000",
        mqtt_port=site.broker.port,
        ftps_port=site.ftps_port,
        timeout_s=3.0,
    )
    with pytest.raises(DeliveryRejected, match="access code"):
        wrong.connect()
    with pytest.raises(DeliveryRejected, match="access code"):
        wrong.deliver(Packet.from_job(make_job(), {"p.gcode": GCODE}), "k")
    wrong.close()
    assert wrong.state is ConnectionState.DISCONNECTED
