"""Real services the tests talk to, with a loud failure naming whatever is missing.

PostgreSQL and Mosquitto are shared servers on the standard loopback ports (override with
HUNAR_TEST_POSTGRES_URL and HUNAR_TEST_MQTT, host:port); every test gets a database or topic of
its own on them. Redis is not shared: each test session starts a private `redis-server` on a free
port (tests/conftest.py, `redis_server`), so only the binary has to be installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

POSTGRES_URL = os.environ.get(
    "HUNAR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MQTT_HOST, _, _mqtt_port = os.environ.get("HUNAR_TEST_MQTT", "127.0.0.1:1883").partition(":")
MQTT_PORT = int(_mqtt_port or 1883)

HOW_TO_START = {
    "PostgreSQL": "apt-get install postgresql, then: pg_ctlcluster --skip-systemctl-redirect "
    "$(ls /etc/postgresql) main start (trust auth on 127.0.0.1:5432, database 'test')",
    "Redis": "apt-get install redis-server (the tests start a private redis-server of their own "
    "on a free port; none needs to be running)",
    "Mosquitto": "apt-get install mosquitto, then: mosquitto -d -c /etc/mosquitto/mosquitto.conf",
}


@dataclass(frozen=True)
class Probe:
    name: str
    ok: bool
    detail: str


def _tcp(host: str, port: int) -> str | None:
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as exc:
        return str(exc)


def probe_postgres() -> Probe:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(POSTGRES_URL, pool_pre_ping=True)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return Probe("PostgreSQL", True, POSTGRES_URL)
    except Exception as exc:  # noqa: BLE001 - reported to the user, the run stops
        return Probe("PostgreSQL", False, f"{POSTGRES_URL}: {exc.__class__.__name__}: {exc}")


def probe_redis_server() -> Probe:
    """The session starts its own redis-server: the binary must be there and run."""
    binary = shutil.which("redis-server")
    if binary is None:
        return Probe("Redis", False, "no redis-server on PATH")
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe("Redis", False, f"{binary} does not run: {exc}")
    if out.returncode != 0 or "Redis server" not in out.stdout:
        return Probe(
            "Redis", False, f"{binary} --version failed: {(out.stdout + out.stderr)[:200]}"
        )
    return Probe("Redis", True, binary)


def probe_mqtt() -> Probe:
    err = _tcp(MQTT_HOST, MQTT_PORT)
    return Probe("Mosquitto", err is None, f"{MQTT_HOST}:{MQTT_PORT}" + (f": {err}" if err else ""))


def missing_services() -> list[str]:
    """One line per service that does not answer (or cannot be started), saying how to get it."""
    lines = []
    for probe in (probe_postgres(), probe_redis_server(), probe_mqtt()):
        if not probe.ok:
            lines.append(
                f"{probe.name} is not available ({probe.detail}). {HOW_TO_START[probe.name]}"
            )
    return lines


def publish_screenshot(shot: Path, name: str) -> None:
    """Copy a Playwright screenshot into docs/screenshots for the README.

    Only with HUNAR_UPDATE_SCREENSHOTS=1 (`make screenshots`), so a test run never dirties the tree.
    """
    import shutil

    if os.environ.get("HUNAR_UPDATE_SCREENSHOTS") == "1":
        docs = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, docs / name)
