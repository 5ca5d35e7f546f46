"""A private Mosquitto broker for outage tests: we start it, so we may kill it (by PID).

The shared broker on :1883 serves every engineer on this machine; an outage test
must not take it down under them. This broker is the same Mosquitto binary with
persistence on, in a throwaway directory on a free loopback port.
"""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@dataclass
class MosquittoPeer:
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            # run as the invoking user (as root mosquitto would drop to 'mosquitto' and
            # then fail to write its persistence file into our private tmp dir)
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.workdir}/\nlog_dest file {self.workdir}/broker.log\n"
        )
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], start_new_session=True)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited; see {self.workdir}/broker.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout_s}s")

    def stop(self) -> None:
        """SIGTERM our own broker (it saves its persistence file), then wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
