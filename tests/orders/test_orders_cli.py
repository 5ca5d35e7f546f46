"""The `hunar` command: every subcommand has help; db upgrade and seed fill a real shop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from orders.db import Database
from orders.models import Calendar, CalendarWindow, Machine, Role, User


def _hunar(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "orders.cli", *args],
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=120,
        env=env or os.environ.copy(),
    )


@pytest.mark.parametrize(
    "cmd", [[], ["db"], ["db", "upgrade"], ["seed"], ["serve"], ["worker"], ["outages"]]
)
def test_every_command_has_help(cmd: list[str], tmp_path: Path) -> None:
    out = _hunar(*cmd, "--help", cwd=tmp_path)
    assert out.returncode == 0 and "Usage:" in out.stdout


@pytest.mark.slow  # `hunar db upgrade` and `hunar seed` as processes
def test_upgrade_and_seed_fill_the_shop(backend: str, db_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = db_factory.url(backend)
    env = {**os.environ, "HUNAR_DATABASE_URL": url}
    assert _hunar("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    first = _hunar("seed", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert (
        "customer@hunar.example" in first.stdout
        and "passwords are shown only this once" in first.stdout
    )
    again = _hunar("seed", cwd=tmp_path, env=env)
    assert "machines added: 0" in again.stdout and "customer@hunar.example" not in again.stdout
    db = Database(url)
    with db.sessions() as s:
        machines = s.scalars(select(Machine)).all()
        assert len(machines) >= 12
        processes = {m.process for m in machines}
        assert {"fdm", "resin", "cnc", "laser", "post", "qc", "pack"} <= processes
        assert len({(m.build_x_mm, m.build_y_mm) for m in machines if m.process == "fdm"}) >= 2
        assert {u.role for u in s.scalars(select(User))} == set(Role)
        assert s.scalar(select(func.count()).select_from(Calendar)) == 2
        assert s.scalar(select(func.count()).select_from(CalendarWindow)) == 1
    db.dispose()


@pytest.mark.slow  # the worker preloads CadQuery first
def test_worker_without_redis_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HUNAR_REDIS_URL"}
    out = _hunar("worker", "--burst", cwd=tmp_path, env=env)
    assert out.returncode != 0 and "HUNAR_REDIS_URL is not set" in out.stderr
