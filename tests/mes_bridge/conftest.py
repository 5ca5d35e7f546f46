"""Real peers for mes_bridge tests: Mosquitto, OctoPrint (virtual printer), B2MML schemas."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from mes_octoprint_peer import OctoPrintPeer, start_octoprint  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


def shared_dir() -> Path:
    return Path(os.environ.get("HUNAR_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def b2mml_dir() -> Path:
    path = shared_dir() / "standards" / "b2mml"
    if not (path / "B2MML-WorkSchedule.xsd").is_file():
        pytest.fail(
            f"B2MML schemas not found at {path}: clone beside ../shared or set HUNAR_SHARED_DIR"
        )
    return path


def broker_up() -> bool:
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def mqtt_broker() -> tuple[str, int]:
    """Mosquitto must be running; fail loudly (never skip) when it is not."""
    if not broker_up():
        pytest.fail(
            f"Mosquitto is not running at {MQTT_HOST}:{MQTT_PORT}; start it with "
            "`mosquitto -d -c /etc/mosquitto/mosquitto.conf`"
        )
    return MQTT_HOST, MQTT_PORT


@pytest.fixture(scope="session")
def octoprint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OctoPrintPeer]:
    """One real OctoPrint per session, on a free loopback port, killed at the end."""
    try:
        peer = start_octoprint(tmp_path_factory.mktemp("octoprint"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield peer
    peer.stop()
