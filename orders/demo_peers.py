"""Shop-floor peers for the demo: an OPC UA job-control receiver and a virtual OctoPrint.

They stand in for machines; each is optional, and the demo says which ones it used.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

OCTO_CONFIG = """\
api:
  key: {key}
server:
  firstRun: false
  onlineCheck:
    enabled: false
plugins:
  virtual_printer:
    enabled: true
    throttle: 0.001
  _disabled: [announcements, tracking, softwareupdate, pluginmanager, backup, achievements]
"""


@dataclass
class OctoPrint:
    url: str
    api_key: str
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_octoprint(binary: Path, basedir: Path, timeout_s: float = 90) -> OctoPrint | None:
    """A real OctoPrint with its virtual printer, or None if it is not installed or won't start."""
    if not binary.exists():
        return None
    basedir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(16).upper()
    (basedir / "config.yaml").write_text(OCTO_CONFIG.format(key=key), encoding="utf-8")
    port = free_port()
    with open(basedir / "octoprint.log", "wb") as log:
        proc = subprocess.Popen(
            [
                str(binary),
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
    peer = OctoPrint(f"http://127.0.0.1:{port}", key, proc)
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and proc.poll() is None:
        try:
            if httpx.get(
                f"{peer.url}/api/version", headers={"X-Api-Key": key}, timeout=2
            ).is_success:
                return peer
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    peer.stop()
    return None


def mqtt_reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False
