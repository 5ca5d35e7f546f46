"""The app factory serves the home page on a fresh database with embedded defaults."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from web import create_app


def test_home_page_lists_the_catalogue(tmp_path: Path) -> None:
    from factories import make_settings

    app = create_app(make_settings(tmp_path, f"sqlite:///{tmp_path / 'h.sqlite3'}"))
    client = app.test_client()
    resp = client.get("/")
    assert resp.status_code == 200
    assert b"Hunar" in resp.data and b"enclosure" in resp.data.lower()
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/healthz").json == {"status": "ok"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow  # `make run`'s commands as processes
def test_make_run_sequence_serves_on_embedded_defaults(tmp_path: Path) -> None:
    """What `make run` does, in a clean directory: upgrade, seed, serve (gunicorn), GET /."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUNAR_")}
    hunar = [sys.executable, "-m", "orders.cli"]
    for cmd in (["db", "upgrade"], ["seed"]):
        subprocess.run([*hunar, *cmd], cwd=tmp_path, env=env, check=True, capture_output=True)
    port = _free_port()
    proc = subprocess.Popen(
        [*hunar, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up"
                assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
                time.sleep(0.3)
        assert resp.status_code == 200 and "Hunar" in resp.text
        assert (tmp_path / "var" / "hunar.sqlite3").exists()
        assert (tmp_path / "var" / "secret_key").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
