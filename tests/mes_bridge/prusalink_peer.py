"""The real PrusaLink (PyPI ``prusalink`` 0.8.1, venv ``.venv-prusalink``) on a virtual MK3S.

PrusaLink is the printer-side program itself; it drives a printer over a serial port, so:

* ``VirtualMk3s`` answers on a pty as Prusa firmware 3.14 does (``PRUSA Fir``, ``M862.2 Q``,
  ``PRUSA SN``, ``D3`` EEPROM where PrusaLink keeps its job id, temperatures, ``G4`` dwell,
  ``M601``-``M603``) and logs each command: the printer's own count of how often a job began.
* PrusaLink runs in its own network namespace (``unshare --net``, loopback only): it announces
  itself over mDNS on every interface, and tests send nothing off this machine. A Unix socket
  bridged inside the namespace is the only way in.
* ``LossyLink`` is the TCP front door the transport uses: tests cut it (network loss) or have it
  drop the answer to one request after PrusaLink acted on it (an uncertain start).

PrusaLink also needs a data dir outside /tmp (it refuses /tmp as storage), Debian's libcap-dev
and libturbojpeg0, a setuptools that still has pkg_resources (constraints-prusalink.txt), and
its settings (type, user, digest) written up front so no first-run wizard is shown.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
PRUSALINK_BIN = Path(
    os.environ.get("HUNAR_PRUSALINK_BIN", str(REPO / ".venv-prusalink" / "bin" / "prusalink"))
)
REALM = "Administrator"  # PrusaLink's digest realm
FIRMWARE = "3.14.1-8237"
_N_LINE = re.compile(r"^N\d+ (?P<cmd>.*?)\*\d+$")


class VirtualMk3s:
    """A pty that answers like an MK3S's firmware; ``reset()`` is a printer reboot."""

    def __init__(self) -> None:
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave  # held open so the pty survives PrusaLink restarts
        self.eeprom: dict[int, int] = {}
        self.commands: list[str] = []
        self.temps, self.targets = [24.0, 23.0], [0.0, 0.0]  # nozzle, bed (heats at once)
        self.m73 = ("-1", "-1")  # percent done, minutes remaining
        # Reports temperatures unasked, as after PrusaLink's ``M155 S2 C7`` (which it only sends
        # after 60 s of silence): a test should not wait a minute for a thermometer.
        self._lock, self._report_s, self._stop = threading.Lock(), 1, threading.Event()
        self._threads = [
            threading.Thread(target=target, daemon=True, name="virtual-mk3s")
            for target in (self._read_loop, self._report_loop)
        ]
        for thread in self._threads:
            thread.start()

    def count(self, command: str) -> int:
        return self.commands.count(command)

    def reset(self) -> None:
        """Power cycle: heaters off, progress cleared, the boot banner PrusaLink listens for."""
        self.targets, self.m73, self._report_s = [0.0, 0.0], ("-1", "-1"), 1
        self._out("start")

    def close(self) -> None:
        """Stops both threads before the pty goes: a descriptor number closed under a live
        thread is soon another file's (a later test's template or pty), which the reader would
        then drain and the reporter write into. A thread that does not stop keeps its pty open."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        if any(thread.is_alive() for thread in self._threads):
            return
        os.close(self.master)
        os.close(self._slave)

    def _out(self, *lines: str) -> None:
        data = "".join(f"{line}\n" for line in lines).encode()
        with self._lock:
            if self._stop.is_set():
                return
            try:
                os.write(self.master, data)
            except OSError:
                pass

    def _read_loop(self) -> None:
        buf = b""
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master], [], [], 0.5)
                chunk = os.read(self.master, 4096) if ready else b""
            except OSError:
                return
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode(errors="replace").strip()
                if match := _N_LINE.match(line):
                    line = match["cmd"].strip()
                if line:
                    with self._lock:
                        self.commands.append(line)
                    self._answer(line)

    def _temps(self) -> str:
        (n, b), (tn, tb) = self.temps, self.targets
        return f"T:{n:.1f} /{tn:.1f} B:{b:.1f} /{tb:.1f} T0:{n:.1f} /{tn:.1f} @:0 B@:0 P:0.0 A:30.0"

    def _report_loop(self) -> None:
        while not self._stop.wait(1.0):
            if self._report_s:
                self._out(
                    self._temps(),
                    "E0:0 RPM PRN1:0 RPM E0@:0 PRN1@:0",
                    "X:0.00 Y:0.00 Z:0.20 E:0.00 Count X: 0.00 Y:0.00 Z:0.20 E:0.00",
                )

    def _answer(self, cmd: str) -> None:
        word, _, rest = cmd.partition(" ")
        args = {a[0]: a[1:] for a in rest.split() if a}
        fixed = {
            "PRUSA": {"Fir": [FIRMWARE], "SN": ["CZPX1234X004XK12345"]}.get(rest, []),
            "M862.2": ["302"],
            "M862.1": ["0.40"],
            "M27": ["Not SD printing"],
            "M220": ["100%"],
            "M221": ["100%"],
            "M420": ["Mesh bed leveling not active."],
            "M20": ["Begin file list", "End file list"],
            "M21": ["echo:SD card ok"],
            "M114": ["X:0.00 Y:0.00 Z:0.20 E:0.00 Count X: 0.00 Y:0.00 Z:0.20 E:0.00"],
            "M601": ["// action:paused"],  # pause, resume and stop as the host asks
            "M602": ["// action:resumed"],
            "M603": ["// action:cancel"],
        }
        if word == "M105":
            self._out(f"ok {self._temps()}")
            return
        heater = {"M104": 0, "M109": 0, "M140": 1, "M190": 1}.get(word)
        if heater is not None and "S" in args:
            self.targets[heater] = float(args["S"] or 0)
            self.temps[heater] = max(self.targets[heater], 23.0 + (heater == 0))
        elif word == "M155":
            self._report_s = int(float(args.get("S", "0") or 0))
        elif word == "M73":  # the slicer's lines set progress; the firmware echoes it either way
            self.m73 = (args.get("P", self.m73[0]), args.get("R", self.m73[1]))
            fixed["M73"] = [
                f"NORMAL MODE: Percent done: {self.m73[0]}; print time remaining in mins: "
                f"{self.m73[1]}; Change in mins: -1"
            ]
        elif word == "G4":
            time.sleep(float(args.get("P", "0") or 0) / 1000 + float(args.get("S", "0") or 0))
        elif word == "D3":
            fixed["D3"] = self._eeprom(args)
        self._out(*fixed.get(word, []), "ok")

    def _eeprom(self, args: dict[str, str]) -> list[str]:
        """``D3 Ax0D05 X00000001`` writes bytes; ``D3 AxD05 C4`` reads them back."""
        addr = int(args.get("A", "x0").removeprefix("x"), 16)
        if "X" in args:
            for i, byte in enumerate(bytes.fromhex(args["X"])):
                self.eeprom[addr + i] = byte
            return []
        count = int(args.get("C", "1"))
        data = " ".join(f"{self.eeprom.get(addr + i, 0):02x}" for i in range(count))
        return [f"{addr:06x}  {data}"]


class LossyLink:
    """A loopback TCP front door to PrusaLink's Unix socket that tests can break on purpose."""

    def __init__(self, unix_path: Path) -> None:
        self.unix_path = unix_path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.cut = False
        self._drop: tuple[str, str] | None = None
        self._open: set[socket.socket] = set()
        self.seen: list[str] = []  # authenticated request lines, in order
        self._lock = threading.Lock()
        threading.Thread(target=self._accept_loop, daemon=True, name="lossy-link").start()

    def drop_answer_once(self, method: str, path_prefix: str) -> None:
        """The next authenticated matching request reaches PrusaLink; its answer never returns."""
        self._drop = (method, path_prefix)

    def lose_network(self) -> None:
        self.cut = True
        with self._lock:
            for conn in list(self._open):
                _close(conn)

    def restore_network(self) -> None:
        self.cut = False

    def close(self) -> None:
        self.lose_network()
        _close(self.listener)

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self.cut:
            _close(client)
            return
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(65536)
                if not chunk:
                    raise OSError("client went away")
                head += chunk
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(str(self.unix_path))
        except OSError:
            _close(client)
            return
        drop = self._inspect(head)
        try:
            upstream.sendall(head)
        except OSError:  # PrusaLink went down between connect and send
            _close(upstream)
            _close(client)
            return
        with self._lock:
            self._open.update((client, upstream))
        threading.Thread(target=_pump, args=(client, upstream, False), daemon=True).start()
        _pump(upstream, client, drop)
        with self._lock:
            self._open.difference_update((client, upstream))

    def authed(self, method: str, path: str) -> int:
        """How many authenticated ``method path`` requests reached PrusaLink."""
        return self.seen.count(f"{method} {path}")

    def _inspect(self, head: bytes) -> bool:
        """Log authenticated requests; True when this one's answer is to be dropped."""
        method, path = (head.split(b"\r\n", 1)[0].decode().split(" ") + ["", ""])[:2]
        low = head.lower()
        authed = b"\r\nauthorization:" in low or b"\r\nx-api-key:" in low
        if authed:
            self.seen.append(f"{method} {path}")
        rule = self._drop
        if rule and authed and method == rule[0] and path.startswith(rule[1]):
            self._drop = None
            return True
        return False


def _pump(src: socket.socket, dst: socket.socket, discard: bool) -> None:
    """Copy until EOF; with ``discard`` swallow everything, then hang up on ``dst``."""
    try:
        while chunk := src.recv(65536):
            if not discard:
                dst.sendall(chunk)
    except OSError:
        pass
    for sock in (src, dst):
        _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@dataclass
class PrusaLinkPeer:
    basedir: Path
    password: str
    api_key: str
    printer: VirtualMk3s
    link: LossyLink
    proc: subprocess.Popen[bytes] | None = None
    user: str = "maker"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.link.port}"

    def starts(self, job_id: str) -> int:
        """How often the printer began this job's G-code (its first line is ``M117 <job>``)."""
        return self.printer.count(f"M117 {job_id}")

    def stop(self) -> None:
        """Terminate our own process group (never by name)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def close(self) -> None:
        self.stop()
        self.link.close()
        self.printer.close()

    def reboot(self, timeout_s: float = 60.0) -> None:
        """Power loss: PrusaLink dies, the printer resets, both come back with files kept."""
        self.stop()
        self.printer.reset()
        launch(self, timeout_s)


def start_prusalink(basedir: Path, timeout_s: float = 60.0) -> PrusaLinkPeer:
    """Write PrusaLink's settings, launch it against a fresh virtual printer, wait for IDLE."""
    if not PRUSALINK_BIN.exists():
        raise RuntimeError(
            f"PrusaLink missing at {PRUSALINK_BIN}; `make peers` installs it (.venv-prusalink)"
        )
    if str(basedir.resolve()).startswith("/tmp/"):
        raise RuntimeError(f"PrusaLink refuses storage under /tmp; got {basedir}")
    (basedir / "data").mkdir(parents=True, exist_ok=True)
    password, api_key = "Hunar-test-7x", "HUNARKEY42"
    digest = hashlib.md5(f"maker:{REALM}:{password}".encode()).hexdigest()  # noqa: S324 - RFC 2617
    (basedir / "data" / "prusa_printer_settings.ini").write_text(
        f"[printer]\ntype = MK3S\nname = hunar-test\n"
        f"[service::local]\nenable = 1\nusername = maker\ndigest = {digest}\napi_key = {api_key}\n"
    )
    printer = VirtualMk3s()
    peer = PrusaLinkPeer(basedir, password, api_key, printer, LossyLink(basedir / "http.sock"))
    try:
        launch(peer, timeout_s)
    except RuntimeError:
        peer.close()
        raise
    return peer


def launch(peer: PrusaLinkPeer, timeout_s: float) -> None:
    """(Re)start PrusaLink in its own network namespace and wait until it prints-ready."""
    ini = peer.basedir / "prusalink.ini"
    ini.write_text(
        f"[daemon]\ndata_dir = {peer.basedir / 'data'}\n[printer]\nport = {peer.printer.path}\n"
        "[http]\naddress = 127.0.0.1\nport = 8080\n"
    )
    sock = peer.basedir / "http.sock"
    sock.unlink(missing_ok=True)
    inner = [sys.executable, __file__, "inside", str(sock), "8080", str(PRUSALINK_BIN)]
    with open(peer.basedir / "prusalink.log", "ab") as log:
        peer.proc = subprocess.Popen(
            ["unshare", "--net", "--", *inner, "-f", "-i", "-c", str(ini), "start"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    end, last = time.monotonic() + timeout_s, "no answer"
    auth = httpx.DigestAuth(peer.user, peer.password)
    while time.monotonic() < end:
        if peer.proc.poll() is not None:
            raise RuntimeError(f"PrusaLink exited early; see {peer.basedir}/prusalink.log")
        try:
            r = httpx.get(f"{peer.url}/api/v1/status", auth=auth, timeout=2)
            printer = r.json().get("printer", {}) if r.status_code == 200 else {}
            last = f"HTTP {r.status_code} {printer}"
            if printer.get("state") == "IDLE" and printer.get("status_printer", {}).get("ok"):
                # The probe's answers leave PrusaLink's queue one "ok" ahead for a moment;
                # nozzle and serial number read back mean its gathers match again.
                info = httpx.get(f"{peer.url}/api/v1/info", auth=auth, timeout=2).json()
                if info.get("nozzle_diameter") == 0.4 and info.get("serial"):
                    return
        except (httpx.TransportError, ValueError):
            pass
        time.sleep(0.3)
    peer.stop()
    raise RuntimeError(f"PrusaLink not ready within {timeout_s}s ({last}); see prusalink.log")


def _inside(sock_path: str, port: int, command: list[str]) -> int:
    """In the new namespace: bring loopback up, run PrusaLink, bridge its Unix socket to it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # SIOCGIFFLAGS / SIOCSIFFLAGS
        flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0)))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))
    child = subprocess.Popen(command)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(64)

    def bridge(conn: socket.socket) -> None:
        try:
            up = socket.create_connection(("127.0.0.1", port))
        except OSError:
            _close(conn)
            return
        threading.Thread(target=_pump, args=(conn, up, False), daemon=True).start()
        _pump(up, conn, False)

    def accept() -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=bridge, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return child.wait()


if __name__ == "__main__" and sys.argv[1:2] == ["inside"]:
    sys.exit(_inside(sys.argv[2], int(sys.argv[3]), sys.argv[4:]))
