"""Start a real OctoPrint with its virtual printer in a throwaway basedir (tests, bench)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
OCTOPRINT_BIN = Path(
    os.environ.get("HUNAR_OCTOPRINT_BIN", str(REPO / ".venv-octoprint" / "bin" / "octoprint"))
)

CONFIG = """\
api:
  key: {key}
server:
  firstRun: false
  onlineCheck:
    enabled: false
  pluginBlacklist:
    enabled: false
plugins:
  virtual_printer:
    enabled: true
    okAfterResend: true
    simulateReset: false
    throttle: 0.001
  announcements:
    enabled: false
  _disabled:
    - announcements
    - tracking
    - softwareupdate
    - pluginmanager
    - backup
    - achievements
accessControl:
  enabled: true
"""


@dataclass
class OctoPrintPeer:
    url: str
    api_key: str
    proc: subprocess.Popen[bytes]
    basedir: Path

    def stop(self) -> None:
        """Terminate our own process group (never by name)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_octoprint(basedir: Path, port: int = 0, timeout_s: float = 90.0) -> OctoPrintPeer:
    """Launch and wait for /api/version; raises RuntimeError naming the reason."""
    if not OCTOPRINT_BIN.exists():
        raise RuntimeError(
            f"OctoPrint binary missing at {OCTOPRINT_BIN}; `make test` installs it "
            "(separate venv .venv-octoprint)"
        )
    basedir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16).upper()
    (basedir / "config.yaml").write_text(CONFIG.format(key=key))
    port = port or _free_port()
    with open(basedir / "octoprint.stdout", "wb") as log:
        proc = _spawn(basedir, port, log)
    peer = OctoPrintPeer(f"http://127.0.0.1:{port}", key, proc, basedir)
    return wait_ready(peer, timeout_s)


def _spawn(basedir: Path, port: int, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(OCTOPRINT_BIN),
            "serve",
            "--iknowwhatimdoing",
            "--basedir",
            str(basedir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(peer: OctoPrintPeer, timeout_s: float) -> OctoPrintPeer:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if peer.proc.poll() is not None:
            raise RuntimeError(f"OctoPrint exited early; see {peer.basedir}/octoprint.stdout")
        try:
            r = httpx.get(f"{peer.url}/api/version", headers={"X-Api-Key": peer.api_key}, timeout=2)
            if r.status_code == 200:
                return peer
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    peer.stop()
    raise RuntimeError(f"OctoPrint did not answer /api/version within {timeout_s}s")


def restart(peer: OctoPrintPeer, timeout_s: float = 90.0) -> OctoPrintPeer:
    """Stop and start on the same port and basedir (same API key): an outage.

    Mutates ``peer`` so whoever owns it (the session fixture) stops the new process.
    """
    peer.stop()
    port = int(peer.url.rsplit(":", 1)[1])
    with open(peer.basedir / "octoprint.stdout", "ab") as log:
        peer.proc = _spawn(peer.basedir, port, log)
    return wait_ready(peer, timeout_s)
