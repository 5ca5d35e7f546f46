"""One settings reader; a secret generated once; nothing connects at import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from orders.settings import Settings, load_settings


def test_defaults_are_embedded(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    for key in ("HUNAR_DATABASE_URL", "HUNAR_REDIS_URL", "HUNAR_ARTIFACT_DIR"):
        monkeypatch.delenv(key, raising=False)
    s = load_settings()
    assert s.resolved_database_url() == f"sqlite:///{tmp_path / 'var' / 'hunar.sqlite3'}"
    assert s.redis_url is None
    assert s.resolved_artifact_dir() == tmp_path / "var" / "artifacts"


def test_environment_and_dotenv(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("HUNAR_REDIS_URL=redis://example:7000/3\nHUNAR_MQTT_PORT=1999\n")
    monkeypatch.setenv("HUNAR_DATABASE_URL", "postgresql+psycopg://u@h/db")
    s = load_settings()
    assert (s.redis_url, s.mqtt_port) == ("redis://example:7000/3", 1999)
    assert s.resolved_database_url() == "postgresql+psycopg://u@h/db"


def test_secret_key_generated_once_and_private(tmp_path: Path) -> None:
    s = Settings(var_dir=tmp_path / "var", secret_key=None)
    key = s.resolved_secret_key()
    assert len(key) >= 40 and s.resolved_secret_key() == key
    path = tmp_path / "var" / "secret_key"
    assert path.stat().st_mode & 0o077 == 0
    assert Settings(var_dir=tmp_path / "var").resolved_secret_key() == key


def test_only_one_module_reads_the_environment() -> None:
    repo = Path(__file__).resolve().parents[2]
    readers = []
    for pkg in ("configurator", "cad", "scheduler", "mes_bridge", "orders", "web"):
        for f in (repo / pkg).rglob("*.py"):
            text = f.read_text(encoding="utf-8")
            if "os.environ" in text or "os.getenv" in text or "BaseSettings" in text:
                readers.append(str(f.relative_to(repo)))
    assert readers == ["orders/settings.py"]


def test_nothing_connects_at_import(tmp_path: Path) -> None:
    """Unreachable services must not matter until something is actually used."""
    code = "import orders.models, orders.adapters.queue, orders.cli, web, orders.jobs; print('ok')"
    env = {
        "HUNAR_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        "HUNAR_REDIS_URL": "redis://127.0.0.1:1/0",
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert out.stdout.strip() == "ok", out.stderr
