"""`hunar demo` end to end, against the real Mosquitto, an in-process OPC UA receiver and a real
virtual OctoPrint: a small run of the story, twice: on embedded defaults (SQLite, in-process jobs)
and on configured services (PostgreSQL, Redis and two real RQ workers doing the CAD and the plans)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NEEDLES = (
    "customers' orders placed",
    "rejected before ordering",
    "plate batching",
    "job orders delivered",
    "machine down",
    "files produced and verified",
)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNAR_")}
    env["HUNAR_OCTOPRINT_BIN"] = str(REPO / ".venv-octoprint" / "bin" / "octoprint")
    env["HUNAR_SITE"] = f"demo-{os.getpid()}-{tmp_path.name}"
    return env


def _demo(tmp_path: Path, env: dict[str, str]) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "orders.cli",
            "demo",
            "--customers",
            "6",
            "--lines",
            "14",
            "--plan-seconds",
            "5",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    for needle in NEEDLES:
        assert needle in text, text
    assert re.search(r"rescheduling proposal (OPTIMAL|FEASIBLE)", text), text
    assert "0 bad" in text and "octoprint" in text and "opcua" in text and "mqtt" in text, text
    report = tmp_path / "var" / "demo" / "report.html"
    assert report.exists() and "<svg" in report.read_text(encoding="utf-8")
    return text


@pytest.mark.slow
def test_demo_tells_the_story_on_embedded_defaults(tmp_path: Path) -> None:
    text = _demo(tmp_path, _env(tmp_path))
    assert "building CAD" in text and "solving plan" in text  # the progress bars' labels


@pytest.mark.slow
def test_demo_on_postgres_and_redis_with_two_workers(
    db_factory, tmp_path: Path, redis_url: str
) -> None:  # type: ignore[no-untyped-def]
    env = _env(tmp_path)
    env |= {
        "HUNAR_DATABASE_URL": db_factory.url("postgresql"),
        "HUNAR_REDIS_URL": redis_url,
        "HUNAR_ARTIFACT_DIR": str(tmp_path / "artifacts"),
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "orders.cli", "worker"],
            cwd=tmp_path,
            env=env,
            stdout=open(tmp_path / f"worker{i}.log", "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for i in range(2)
    ]
    try:
        _demo(tmp_path, env)
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            w.wait(60)
    logs = "".join((tmp_path / f"worker{i}.log").read_text() for i in range(2))
    assert "build_artifacts" in logs and "plan_schedule" in logs, logs[-3000:]  # the workers did it
