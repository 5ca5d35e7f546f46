"""Fault drill: `kill -9` a CAD worker mid-build. RQ notices the abandoned job once its heartbeat
expires, the retry runs on a fresh worker, the order completes, and no half-written artifact is
ever recorded or served. Real Redis, real worker processes (about two minutes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from factories import make_configuration, make_settings, make_shop, make_user
from sqlalchemy import select

from orders.adapters.outbox import flush_enqueues
from orders.adapters.store import store_for
from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.context import AppContext
from orders.lifecycle import Status
from orders.models import Artifact, JobRecord, JobState, OrderLine


def _worker(env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "orders.cli", "worker", "cad"],
        env=env,
        cwd=cwd,
        stdout=open(cwd / "worker.log", "ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kill_tree(pid: int) -> None:
    proc = psutil.Process(pid)
    for p in [*proc.children(recursive=True), proc]:
        p.send_signal(signal.SIGKILL)


def _wait(pred, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_kill_9_mid_build_is_retried_and_nothing_half_written_is_served(
    db_factory, tmp_path: Path, redis_url: str
) -> None:  # type: ignore[no-untyped-def]
    url = db_factory.url("postgresql")
    # a design nobody built yet (fresh artifact dir), so the job really builds
    ctx = AppContext.from_settings(
        make_settings(tmp_path, url, redis_url=redis_url, cad_job_timeout_s=60)
    )
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s, inner_length=97)
        place_order(s, user.id, [LineRequest(cfg.id, 2)], "k", Actor("c", user.id), "PKR")
    assert flush_enqueues(ctx) == 1
    env = {
        **os.environ,
        "HUNAR_DATABASE_URL": url,
        "HUNAR_REDIS_URL": redis_url,
        "HUNAR_ARTIFACT_DIR": str(ctx.settings.resolved_artifact_dir()),
        "HUNAR_CAD_JOB_TIMEOUT_S": "60",
    }

    def record() -> JobRecord:
        with ctx.db.sessions() as s:
            return s.scalars(select(JobRecord)).one()

    first = _worker(env, tmp_path)
    try:
        _wait(lambda: record().state == JobState.STARTED, 120, "the build to start")
        time.sleep(0.5)  # well inside the build: exports and slicing take seconds
        _kill_tree(first.pid)  # the work horse runs in a session of its own: kill it too
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert record().state == JobState.STARTED, "killed mid-build, before it could finish"
    with ctx.db.sessions() as s:  # nothing but complete files may be recorded
        for art in s.scalars(select(Artifact)):
            path = store_for(ctx).path(art.path)
            assert path.stat().st_size == art.bytes
    second = _worker(env, tmp_path)
    try:
        _wait(lambda: record().state == JobState.FINISHED, 240, "the retried build")
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(30)
    rec = record()
    assert rec.attempts >= 2 and rec.result and rec.result["ok"], (rec.attempts, rec.result)
    from cad.store import sha256_file

    with ctx.db.sessions() as s:
        assert {ln.status for ln in s.scalars(select(OrderLine))} == {Status.CAD_READY}
        arts = s.scalars(select(Artifact)).all()
        assert {"step", "stl", "glb"} <= {a.kind for a in arts}
        for art in arts:
            assert sha256_file(store_for(ctx).path(art.path)) == (art.sha256, art.bytes)
    ctx.close()
