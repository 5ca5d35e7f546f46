"""Bambu Lab LAN-mode transport: ``.gcode.3mf`` over implicit FTPS, control over MQTT/TLS.

Delivery uploads ``<job_order_id>.gcode.3mf`` to the SD card and never starts a print; the same
content again is a duplicate, different content under the same job is refused. The printer's
MQTT broker (port 8883, user ``bblp``, password = access code) takes commands on
``device/<serial>/request`` and reports on ``device/<serial>/report``; P1/A1 printers report only
changed fields, so reports are merged into one cached state and a ``pushall`` asks for all of it.

Starting is at most once: the printer must report itself idle and not already show the job; the
file is then moved into ``started/`` on the card (a durable mark any later process sees) and
``project_file`` is sent, confirmed only by a report naming the job as PREPARE/RUNNING. An
unconfirmed start is reconciled from a fresh ``pushall`` and never resent.

Firmware with Authorization Control refuses unsigned LAN commands with
``result: failed, reason: "mqtt message verify failed"`` (err_code 84033543, HMS 0500-0500-0001-0007,
as published by ha-bambulab and OpenBambuAPI users); the transport then becomes monitor-only.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import paho.mqtt.client as mqtt

from mes_bridge.transports import bambu_files as bf
from mes_bridge.transports import bambu_report as br
from mes_bridge.transports.base import (
    ConnectionState,
    DeliveryReceipt,
    DeliveryRejected,
    JobState,
    NotReady,
    Packet,
    PrinterStatus,
    StartResult,
    Transport,
    TransportUnavailable,
    now_utc,
)
from mes_bridge.transports.registry import SiteConfig


class BambuTransport(Transport):
    name = "bambu"

    def __init__(
        self,
        machine_id: str,
        host: str,
        serial: str,
        access_code: str,
        mqtt_port: int = 8883,
        ftps_port: int = 990,
        ca_file: str | None = None,
        timeout_s: float = 10.0,
        confirm_timeout_s: float = 20.0,
    ) -> None:
        super().__init__()
        self.machine_id, self.host, self.serial = machine_id, host, serial
        self.access_code, self.mqtt_port = access_code, mqtt_port
        self.timeout_s, self.confirm_timeout_s = timeout_s, confirm_timeout_s
        self.files = bf.PrinterFiles(host, ftps_port, access_code, ca_file, timeout_s)
        self._tls = bf.tls_context(ca_file)
        self.request_topic = f"device/{serial}/request"
        self.report_topic = f"device/{serial}/report"
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._cond = threading.Condition()  # guards everything below; notified on each message
        self._report: dict[str, Any] = {}
        self._full_reports = 0  # reports carrying gcode_state since the last (re)connect
        self._acks: dict[str, dict[str, Any]] = {}
        self._monitor_only = ""
        self._refusal = ""  # the broker's CONNACK refusal (bad access code)
        self._seq = itertools.count(int(time.time() * 1000) % 10**9)

    # -- MQTT plumbing ------------------------------------------------------------
    def connect(self) -> None:
        """Open a fresh session and wait for a full report (pushall) before anything is decided."""
        if self._client is not None and self._connected.is_set() and self._synced():
            return
        self._teardown()
        self._state, self._refusal = ConnectionState.CONNECTING, ""
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"hunar-{self.machine_id}-{uuid.uuid4().hex[:8]}",
            clean_session=True,
        )
        client.username_pw_set(bf.FTPS_USER, self.access_code)
        client.tls_set_context(self._tls)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        try:
            client.connect(self.host, self.mqtt_port, keepalive=30)
        except OSError as exc:
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"bambu mqtt {self.host}:{self.mqtt_port}: {exc}") from exc
        client.loop_start()
        self._client = client
        self._wait(lambda: self._connected.is_set() or bool(self._refusal), self.timeout_s)
        if self._refusal:
            self._teardown()
            self._state = ConnectionState.FAILED
            raise DeliveryRejected(f"bambu mqtt refused the login ({self._refusal}; access code?)")
        if not self._connected.is_set() or not self._wait(self._synced, self.timeout_s):
            self._teardown()
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"bambu mqtt {self.host}:{self.mqtt_port}: no full report")
        self._state = ConnectionState.CONNECTED

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if not rc.is_failure:
            client.subscribe(self.report_topic, qos=0)
            return
        with self._cond:
            self._refusal = str(rc)
            self._cond.notify_all()

    def _on_subscribe(self, client: mqtt.Client, *_a: Any) -> None:
        with self._cond:
            self._connected.set()
            self._cond.notify_all()
        client.publish(self.request_topic, self._command("pushing", "pushall"), qos=0)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
        self._connected.clear()
        with self._cond:  # a report from before the drop must not decide anything after it
            self._report, self._full_reports = {}, 0
            self._cond.notify_all()
        if self._state is ConnectionState.CONNECTED:
            self._state = ConnectionState.CONNECTING

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            return
        body = doc.get("print") if isinstance(doc, dict) else None
        if not isinstance(body, dict):
            return
        with self._cond:
            if body.get("command") == "push_status":
                br.merge(self._report, body)
                self._full_reports += "gcode_state" in body  # a pushall reply has it
            elif "result" in body:  # a command's acknowledgement: never merged into state
                self._acks[str(body.get("sequence_id", ""))] = body
                if br.is_auth_refusal(body):
                    detail = f"{body.get('command')}: {body.get('reason')}"
                    self._monitor_only = br.MONITOR_ONLY.format(detail=detail)
            self._cond.notify_all()

    def _teardown(self) -> None:
        client, self._client = self._client, None
        self._connected.clear()
        if client is not None:
            client.disconnect()
            client.loop_stop()
        with self._cond:
            self._report, self._full_reports = {}, 0

    def close(self) -> None:
        """Release the session; a re-opened transport may drive the printer again (monitor-only
        is kept for the life of a session, so an operator's firmware change takes effect)."""
        self._teardown()
        self._monitor_only = ""
        self._state = ConnectionState.DISCONNECTED

    def _synced(self) -> bool:
        return self._full_reports > 0

    def _wait(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(predicate, timeout_s)

    def _command(self, kind: str, command: str, **fields: Any) -> bytes:
        return json.dumps(
            {kind: {"sequence_id": str(next(self._seq)), "command": command, **fields}}
        ).encode()

    def _publish(self, payload: bytes) -> None:
        """QoS 1 to the request topic; an unacknowledged publish tears the session down so
        nothing queued inside paho reaches the printer later behind our back."""
        client = self._client
        if client is None or not self._connected.is_set():
            raise TransportUnavailable(f"bambu mqtt {self.host}:{self.mqtt_port}: not connected")
        info = client.publish(self.request_topic, payload, qos=1)
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError):
            pass
        if not info.is_published():
            self._teardown()
            self._state = ConnectionState.FAILED
            raise TransportUnavailable(f"bambu mqtt {self.host}: request not acknowledged")

    def _ensure(self) -> None:
        if self._client is None or not self._connected.is_set() or not self._synced():
            self.connect()

    def _refresh(self) -> None:
        """Ask for a full report (pushall) and wait for it: decisions use fresh state only."""
        self._ensure()
        with self._cond:
            before = self._full_reports
        self._publish(self._command("pushing", "pushall"))
        if not self._wait(lambda: self._full_reports > before, self.timeout_s):
            raise TransportUnavailable(f"bambu {self.serial}: no report after pushall")

    def _snapshot(self) -> dict[str, Any]:
        with self._cond:
            return dict(json.loads(json.dumps(self._report)))

    def _printer_state(self, job_id: str) -> JobState | None:
        """The job's state as the printer reports it, or None when it reports another job."""
        report = self._snapshot()
        if str(report.get("subtask_name", "")) != job_id:
            return None
        return br.GCODE_STATE.get(str(report.get("gcode_state", "")), JobState.UNKNOWN)

    def _refused(self, seq: str) -> bool:
        with self._cond:
            return seq in self._acks and br.is_refusal(self._acks[seq])

    def _require_control(self) -> None:
        if self._monitor_only:
            raise DeliveryRejected(self._monitor_only)

    # -- delivery -----------------------------------------------------------------
    def deliver(self, packet: Packet, idempotency_key: str) -> DeliveryReceipt:
        """Upload the package; identical content already on the card is a duplicate."""
        job_id = packet.job.job_order_id
        data = bf.package(packet.job, bf.gcode_of(packet))
        with self.files.session() as ftp:
            found = self.files.locate(ftp, job_id)
            if found is not None:
                same_size = self.files.size(ftp, found) == len(data)
                if same_size and self.files.read(ftp, found) == data:
                    return DeliveryReceipt(
                        self.name, job_id, idempotency_key, now_utc(), found, duplicate=True
                    )
                raise DeliveryRejected(f"bambu {self.serial} already holds a different {found}")
            name = bf.file_name(job_id)
            self.files.store(ftp, name, data)
            if self.files.size(ftp, name) != len(data):  # SD cards do fail; a retry re-checks
                ftp.delete(name)
                raise TransportUnavailable(f"bambu ftps: {name} has the wrong size; retry")
        return DeliveryReceipt(self.name, job_id, idempotency_key, now_utc(), name)

    # -- state and start ----------------------------------------------------------
    def read_state(self, job_id: str) -> JobState:
        """The printer's report when it names the job, else the card: delivered or not. A job
        marked started that the printer no longer names (a later job, a reboot) is UNKNOWN."""
        self._ensure()
        printer = self._printer_state(job_id)
        if printer is not None:
            return printer
        with self.files.session() as ftp:
            found = self.files.locate(ftp, job_id)
        if found == bf.file_name(job_id):
            return JobState.ALLOWED_TO_START
        return JobState.UNKNOWN

    def start(self, job_id: str) -> StartResult:
        self._require_control()
        self._refresh()
        printer = self._printer_state(job_id)
        if printer is not None:
            return StartResult(job_id, False, printer, "reconciled: the printer reports the job")
        name = bf.file_name(job_id)
        started = f"{bf.STARTED_DIR}/{name}"
        with self.files.session() as ftp:
            found = self.files.locate(ftp, job_id)
        if found is None:
            raise NotReady(f"bambu {self.serial} has no {name} yet")
        if found == started:
            detail = "start was sent before and the printer does not report it; not resent"
            return StartResult(job_id, False, JobState.UNKNOWN, detail)
        report = self._snapshot()
        if report.get("gcode_state") not in br.IDLE_STATES:
            raise NotReady(f"bambu {self.serial} busy: {report.get('gcode_state')}")
        with self.files.session() as ftp:
            self.files.move(ftp, name, started)  # the durable at-most-once mark
        return self._send_start(job_id, started)

    def _send_start(self, job_id: str, path: str) -> StartResult:
        fields = br.project_file(job_id, path, bf.PLATE_GCODE)
        payload = self._command("print", "project_file", **fields)
        seq = json.loads(payload)["print"]["sequence_id"]
        try:
            self._publish(payload)
            self._wait(
                lambda: self._printer_state(job_id) is not None or self._refused(seq),
                self.confirm_timeout_s,
            )
        except TransportUnavailable:
            pass  # uncertain: reconciled below or by the next start, never resent
        if self._refused(seq):
            with self.files.session() as ftp:  # refused for certain: nothing started
                self.files.move(ftp, path, bf.file_name(job_id))
            raise DeliveryRejected(self._monitor_only or f"bambu refused start: {self._acks[seq]}")
        confirmed = self._printer_state(job_id)
        if confirmed is not None:
            return StartResult(job_id, True, confirmed, "project_file confirmed by push_status")
        try:
            self._refresh()
        except TransportUnavailable as exc:
            raise TransportUnavailable(
                f"start of {job_id} unconfirmed ({exc}); it will be reconciled, not resent"
            ) from exc
        state = self._printer_state(job_id)
        if state is None:
            raise TransportUnavailable(
                f"start of {job_id} sent but not confirmed; reconciled "
                "from push_status on the next attempt, never resent"
            )
        return StartResult(job_id, True, state, "project_file confirmed by push_status")

    # -- printer control and status ----------------------------------------------
    def _control(self, job_id: str, command: str, done: Callable[[], bool], **fields: Any) -> None:
        """Send a command for the running job and wait until the report shows its effect."""
        self._require_control()
        self._refresh()
        if self._printer_state(job_id) not in (JobState.RUNNING, JobState.INTERRUPTED):
            raise DeliveryRejected(f"bambu {self.serial}: {job_id} is not the running job")
        payload = self._command("print", command, **fields)
        seq = json.loads(payload)["print"]["sequence_id"]
        self._publish(payload)
        self._wait(lambda: done() or self._refused(seq), self.confirm_timeout_s)
        if self._refused(seq):
            raise DeliveryRejected(
                self._monitor_only or f"bambu refused {command}: {self._acks[seq]}"
            )
        if not done():
            raise TransportUnavailable(f"bambu {command} for {job_id}: no effect reported yet")

    def cancel(self, job_id: str) -> None:
        def stopped() -> bool:
            return self._printer_state(job_id) not in (JobState.RUNNING, JobState.INTERRUPTED)

        self._control(job_id, "stop", stopped, param="")

    def exclude_object(self, job_id: str, object_name: str) -> None:
        with self.files.session() as ftp:
            found = self.files.locate(ftp, job_id)
            data = self.files.read(ftp, found) if found else None
        objects = bf.objects_in(data) if data else {}
        if object_name not in objects:
            raise DeliveryRejected(f"bambu: {job_id} has no object {object_name!r}")
        oid = objects[object_name]
        skipped = {int(i) for i in self._snapshot().get("s_obj") or []} | {oid}

        def gone() -> bool:
            return oid in (self._snapshot().get("s_obj") or [])

        self._control(job_id, "skip_objects", gone, obj_list=sorted(skipped))

    def status(self) -> PrinterStatus:
        """The cached, merged report (full after connect); a down printer is reported, not raised."""
        try:
            self._ensure()
        except TransportUnavailable as exc:
            return PrinterStatus(
                self.machine_id,
                self.state,
                JobState.UNKNOWN,
                error=str(exc),
                monitor_only=self._monitor_only,
                read_at=now_utc(),
            )
        return br.printer_status(self.machine_id, self.state, self._snapshot(), self._monitor_only)


def from_config(machine_id: str, config: Mapping[str, Any], site: SiteConfig) -> Transport | None:
    """A Bambu printer in LAN mode; None (the default transport) without host/serial/access code."""
    host, serial, code = (str(config.get(k) or "") for k in ("host", "serial", "access_code"))
    if not (host and serial and code):
        return None
    return BambuTransport(
        machine_id,
        host,
        serial,
        code,
        mqtt_port=int(config.get("mqtt_port", 8883)),
        ftps_port=int(config.get("ftps_port", 990)),
        ca_file=str(config["ca_file"]) if config.get("ca_file") else None,
    )
