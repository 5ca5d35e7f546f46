"""The production files stay valid: compose config (offline, Debian's docker-compose) and the
entrypoint's roles. No Docker engine runs here, so images are not built in tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _compose_dir(tmp_path: Path) -> Path:
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "deploy", tmp_path / "deploy")
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    return tmp_path


@pytest.mark.slow  # runs docker-compose config
def test_compose_file_is_valid(tmp_path: Path) -> None:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is missing: `make test` installs Debian's docker-compose package"
    out = subprocess.run(
        [exe, "-f", "docker-compose.yml", "config", "-q"],
        cwd=_compose_dir(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.slow  # runs docker-compose config
def test_compose_has_the_promised_services(tmp_path: Path) -> None:
    exe = shutil.which("docker-compose")
    assert exe
    out = subprocess.run(
        [exe, "-f", "docker-compose.yml", "config"],
        cwd=_compose_dir(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    cfg = yaml.safe_load(out.stdout)
    services = cfg["services"]
    assert {"web", "worker", "dispatch", "intake", "postgres", "redis", "mosquitto"} <= set(
        services
    )
    assert services["dispatch"]["command"] == ["dispatch"] and services["intake"]["command"] == [
        "intake"
    ]
    for name in ("web", "worker", "dispatch", "intake", "postgres", "redis", "mosquitto"):
        assert "healthcheck" in services[name], f"{name} has no health check"
    assert "ports" not in services["worker"], "workers must scale: no fixed host ports"
    assert {"pgdata", "redisdata", "artifacts"} <= set(cfg["volumes"])
    assert services["web"]["command"] == ["web"]


@pytest.mark.slow  # runs docker-compose config
def test_compose_check_would_catch_a_broken_file(tmp_path: Path) -> None:
    exe = shutil.which("docker-compose")
    assert exe
    d = _compose_dir(tmp_path)
    (d / "docker-compose.yml").write_text("services:\n  web:\n    image: 12\n    ports: nope\n")
    out = subprocess.run(
        [exe, "-f", "docker-compose.yml", "config", "-q"],
        cwd=d,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0


@pytest.mark.parametrize("role", ["bogus"])
def test_entrypoint_rejects_unknown_role(role: str) -> None:
    out = subprocess.run(
        ["sh", str(REPO / "deploy" / "entrypoint.sh"), role],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 64 and "unknown role" in out.stderr


@pytest.mark.slow  # the entrypoint runs `hunar` as a process
def test_entrypoint_migrate_role_runs_hunar(tmp_path: Path) -> None:
    """The migrate role runs the real `hunar db upgrade` against a throwaway SQLite file."""
    venv_bin = Path(__import__("sys").executable).parent
    env = {"PATH": f"{venv_bin}:/usr/bin:/bin", "HUNAR_VAR_DIR": str(tmp_path / "var")}
    out = subprocess.run(
        ["sh", str(REPO / "deploy" / "entrypoint.sh"), "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "var" / "hunar.sqlite3").exists()


@pytest.mark.slow  # the entrypoint runs `hunar` as a process
def test_entrypoint_dispatch_role_loops_over_the_outbox(tmp_path: Path) -> None:
    """The dispatch role runs the real `hunar dispatch --loop` (here on a migrated SQLite file)."""
    venv_bin = Path(__import__("sys").executable).parent
    env = {
        "PATH": f"{venv_bin}:/usr/bin:/bin",
        "HUNAR_VAR_DIR": str(tmp_path / "var"),
        "HUNAR_MQTT_PORT": "1",
    }
    entry = str(REPO / "deploy" / "entrypoint.sh")
    subprocess.run(["sh", entry, "migrate"], env=env, cwd=tmp_path, check=True, timeout=120)
    proc = subprocess.Popen(
        ["sh", entry, "dispatch", "--interval", "0.2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(2)]  # type: ignore[union-attr]
        assert all(line.startswith("queued 0, delivered 0") for line in lines), lines
        assert proc.poll() is None, "the loop keeps running"
    finally:
        proc.terminate()
        proc.wait(30)
