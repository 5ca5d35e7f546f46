"""`hunar demo` end to end on embedded defaults (SQLite, in-process jobs), against the real
Mosquitto, an in-process OPC UA receiver and a real virtual OctoPrint: a small run of the story."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_tells_the_story(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNAR_")}
    env["HUNAR_OCTOPRINT_BIN"] = str(REPO / ".venv-octoprint" / "bin" / "octoprint")
    env["HUNAR_SITE"] = f"demo-{os.getpid()}"
    out = subprocess.run([sys.executable, "-m", "orders.cli", "demo", "--customers", "6",
                          "--lines", "14", "--plan-seconds", "5"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    for needle in ("customers' orders placed", "rejected before ordering", "plate batching",
                   "job orders delivered", "machine down", "files produced and verified"):  # fmt: skip
        assert needle in text, text
    assert "0 bad" in text and "octoprint" in text and "opcua" in text and "mqtt" in text, text
    report = tmp_path / "var" / "demo" / "report.html"
    assert report.exists() and "<svg" in report.read_text(encoding="utf-8")
