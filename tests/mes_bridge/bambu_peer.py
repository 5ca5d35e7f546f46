"""Peers for the Bambu transport tests: a TLS Mosquitto, an implicit-FTPS server, a printer.

The wire is real: the transport talks MQTT over TLS (with username/password from a
``mosquitto_passwd`` file) to a private Mosquitto we start on a free port, and FTPS with implicit
TLS to a pyftpdlib server. pyftpdlib 2.2 has only explicit FTPS (AUTH TLS); ``ImplicitTLSHandler``
makes it implicit by starting the TLS handshake on accept and sending the 220 banner only once the
handshake is done (what a Bambu printer's port 990 does).

The printer itself is a STAND-IN: Bambu firmware cannot be installed here, so ``PrinterStandIn``
is written from the community-published LAN protocol (ha-bambulab, OpenBambuAPI). It subscribes to
``device/<serial>/request``, reads the uploaded ``.gcode.3mf`` from the FTPS root (its "SD card"),
runs PREPARE -> RUNNING -> FINISH in a second or two, publishes ``push_status`` (only the changed
fields when ``delta_only``, like P1/A1), answers ``pushall`` with a full report, honours
``skip_objects`` and ``stop``, and can enforce Authorization Control (refusing unsigned commands
with ``mqtt message verify failed``). It is no evidence that real firmware behaves the same.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import ipaddress
import json
import re
import signal
import ssl
import subprocess
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mes_mosquitto_peer import MOSQUITTO
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer

MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd"
TASK_CANCELLED = 50348044  # print_error 0x0300400C, "the task was cancelled"
VERIFY_FAILED = {"result": "failed", "reason": "mqtt message verify failed", "err_code": 84033543}


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path


def make_certs(workdir: Path, common_name: str) -> Certs:
    """A throwaway CA and a server certificate for 127.0.0.1 (P-256: quick to make)."""
    now = dt.datetime.now(dt.UTC)

    def build(subject: str, issuer: x509.Name | None, key: Any, signer: Any, ca: bool) -> Any:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        b = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = [x509.DNSName(subject), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return b.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("hunar-test-ca", None, ca_key, ca_key, ca=True)
    cert = build(common_name, ca_cert.subject, key, ca_key, ca=False)
    out = Certs(workdir / "ca.pem", workdir / "server.pem", workdir / "server.key")
    out.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return out


@dataclass
class TlsMosquitto:
    """Our own Mosquitto with one TLS listener and a password file (we may stop it by PID)."""

    port: int
    workdir: Path
    certs: Certs
    user: str
    password: str
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        passwd = self.workdir / "passwd"
        if not passwd.exists():
            subprocess.run(
                [MOSQUITTO_PASSWD, "-c", "-b", str(passwd), self.user, self.password], check=True
            )
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"user {getpass.getuser()}\nper_listener_settings false\n"
            f"listener {self.port} 127.0.0.1\ncafile {self.certs.ca}\n"
            f"certfile {self.certs.cert}\nkeyfile {self.certs.key}\n"
            f"allow_anonymous false\npassword_file {passwd}\n"
            f"log_dest file {self.workdir}/broker.log\n"
        )
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], start_new_session=True)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited; see {self.workdir}/broker.log")
            if f"listen socket on port {self.port}" in self._log():
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout_s}s")

    def _log(self) -> str:
        path = self.workdir / "broker.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


class ImplicitTLSHandler(TLS_FTPHandler):
    """Implicit FTPS on top of pyftpdlib's explicit one: TLS first, then the 220 banner."""

    tls_control_required = True
    tls_data_required = True
    _greeted = False

    def handle(self) -> None:
        self.secure_connection(self.ssl_context)

    def handle_ssl_established(self) -> None:
        if not self._greeted:
            self._greeted = True
            TLS_FTPHandler.handle(self)


class FtpsServer:
    """pyftpdlib in a thread, polled so it can be stopped cleanly; its root is the 'SD card'."""

    def __init__(self, port: int, root: Path, user: str, password: str, certs: Certs) -> None:
        authorizer = DummyAuthorizer()
        authorizer.add_user(user, password, str(root), perm="elradfmwMT")
        handler = type("Handler", (ImplicitTLSHandler,), {})  # class attrs per server
        handler.certfile, handler.keyfile = str(certs.cert), str(certs.key)
        handler.authorizer = authorizer
        handler.auth_failed_timeout = 0.1
        self.root, self.server = root, FTPServer(("127.0.0.1", port), handler)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ftps")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.server.ioloop.loop(0.05, blocking=False)  # serve_forever logs every call
        self.server.close_all()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class PrinterStandIn:
    """A Bambu printer as the published LAN protocol describes it (see the module docstring)."""

    serial: str
    port: int
    access_code: str
    ca_file: Path
    sd_root: Path
    delta_only: bool = True
    enforce_auth: bool = False
    swallow_starts: bool = False
    prepare_s: float = 0.3
    run_s: float = 1.5
    commands: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    started: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state: dict[str, Any] = {
            "gcode_state": "IDLE",
            "subtask_name": "",
            "gcode_file": "",
            "mc_percent": 0,
            "mc_remaining_time": 0,
            "nozzle_temper": 24.0,
            "bed_temper": 23.0,
            "print_error": 0,
            "s_obj": [],
            "print_type": "idle",
        }
        self._sent: dict[str, Any] = {}
        self._objects: set[int] = set()
        self._began = 0.0
        self._lock = threading.RLock()
        self._up = threading.Event()
        self._alive = True
        self._client = self._new_client()
        self._ticker = threading.Thread(target=self._tick, daemon=True, name=f"bambu-{self.serial}")
        self._ticker.start()

    # -- wiring ---------------------------------------------------------------------
    def _new_client(self) -> mqtt.Client:
        c = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"printer-{uuid.uuid4().hex[:6]}"
        )
        c.username_pw_set("bblp", self.access_code)
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        c.tls_set_context(ctx)
        c.reconnect_delay_set(1, 1)
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(f"device/{self.serial}/request", 1)
        c.on_subscribe = lambda *a: self._up.set()
        c.on_disconnect = lambda *a: self._up.clear()
        c.on_message = self._on_message
        c.connect("127.0.0.1", self.port, keepalive=5)
        c.loop_start()
        if not self._up.wait(10):
            raise RuntimeError("printer stand-in could not subscribe")
        return c

    def close(self) -> None:
        self._alive = False
        self._client.disconnect()
        self._client.loop_stop()

    def reboot(self, down_s: float = 0.8) -> None:
        """Power-cycle mid-job: the session drops, the job is lost and reported FAILED."""
        self._client.disconnect()
        self._client.loop_stop()
        with self._lock:
            if self.state["gcode_state"] in ("PREPARE", "RUNNING"):
                self.state.update(gcode_state="FAILED", print_type="idle")
            self.state.update(nozzle_temper=24.0, bed_temper=23.0, mc_remaining_time=0)
            self._sent = {}
        time.sleep(down_s)
        self._client = self._new_client()

    def wait_up(self, timeout_s: float = 15) -> None:
        if not self._up.wait(timeout_s):
            raise AssertionError(f"printer {self.serial} did not reconnect to the broker")

    def project_files(self) -> list[dict[str, Any]]:
        return [c for c in self.commands if c.get("command") == "project_file"]

    # -- the printer ----------------------------------------------------------------
    def _publish(self, body: dict[str, Any]) -> None:
        self.reports.append(body)
        self._client.publish(f"device/{self.serial}/report", json.dumps({"print": body}), qos=0)

    def _report(self, full: bool = False) -> None:
        with self._lock:
            changed = {k: v for k, v in self.state.items() if self._sent.get(k) != v}
            body = dict(self.state) if full or not self.delta_only else changed
            if not body:
                return
            self._sent.update(json.loads(json.dumps(self.state)))
            self._publish({"command": "push_status", "msg": 0 if full else 1, **body})

    def _ack(self, cmd: dict[str, Any], **result: Any) -> None:
        self._publish(
            {"command": cmd.get("command"), "sequence_id": cmd.get("sequence_id"), **result}
        )

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        doc = json.loads(msg.payload)
        if doc.get("pushing", {}).get("command") == "pushall":
            self._report(full=True)
            return
        cmd = doc.get("print") or {}
        self.commands.append(cmd)
        if self.swallow_starts and cmd.get("command") == "project_file":
            return  # accepted by the broker, then silence: the uncertain start
        if self.enforce_auth:
            self._ack(cmd, **VERIFY_FAILED)
            return
        handler = {"project_file": self._start, "stop": self._stop, "skip_objects": self._skip}
        if cmd.get("command") in handler:
            with self._lock:
                handler[str(cmd["command"])](cmd)
            self._report()

    def _start(self, cmd: dict[str, Any]) -> None:
        if self.state["gcode_state"] not in ("IDLE", "FINISH", "FAILED"):
            self._ack(cmd, result="failed", reason="printer is busy")
            return
        path = self.sd_root / re.sub(r"^file:///sdcard/", "", str(cmd.get("url", "")))
        try:
            with zipfile.ZipFile(path) as zf:
                gcode = zf.read(str(cmd["param"]))
                md5 = zf.read(f"{cmd['param']}.md5").decode().strip().lower()
                info = zf.read("Metadata/slice_info.config").decode()
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            self._ack(cmd, result="failed", reason=f"file error: {exc}")
            return
        if hashlib.md5(gcode).hexdigest() != md5:
            self._ack(cmd, result="failed", reason="md5 mismatch")
            return
        self._objects = {int(i) for i in re.findall(r'identify_id="(\d+)"', info)}
        self.started.append(str(cmd.get("subtask_name")))
        self._began = time.monotonic()
        self.state.update(
            gcode_state="PREPARE",
            subtask_name=cmd.get("subtask_name"),
            gcode_file=str(path.relative_to(self.sd_root)),
            mc_percent=0,
            print_error=0,
            s_obj=[],
            print_type="local",
        )
        self._ack(cmd, result="success", reason="")

    def _stop(self, cmd: dict[str, Any]) -> None:
        if self.state["gcode_state"] in ("PREPARE", "RUNNING", "PAUSE"):
            self.state.update(gcode_state="FAILED", print_error=TASK_CANCELLED, print_type="idle")
        self._ack(cmd, result="success", reason="")

    def _skip(self, cmd: dict[str, Any]) -> None:
        wanted = {int(i) for i in cmd.get("obj_list") or []} & self._objects
        self.state["s_obj"] = sorted(set(self.state["s_obj"]) | wanted)
        self._ack(cmd, result="success", reason="")

    def _tick(self) -> None:
        """Advance the job and report what changed, a few times a second."""
        while self._alive:
            time.sleep(0.1)
            with self._lock:
                s, elapsed = self.state, time.monotonic() - self._began
                if s["gcode_state"] == "PREPARE" and elapsed >= self.prepare_s:
                    s.update(gcode_state="RUNNING", nozzle_temper=220.0, bed_temper=60.0)
                if s["gcode_state"] == "RUNNING":
                    done = min(1.0, (elapsed - self.prepare_s) / self.run_s)
                    s["mc_percent"] = int(done * 100)
                    s["mc_remaining_time"] = round((1 - done) * self.run_s)  # "minutes"
                    if done >= 1.0:
                        s.update(gcode_state="FINISH", print_type="idle", nozzle_temper=40.0)
            if self._up.is_set():
                self._report()
