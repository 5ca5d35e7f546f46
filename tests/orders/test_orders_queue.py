"""One enqueue(), two backends: in-process and a real RQ worker on a real Redis, same records."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from factories import make_settings  # noqa: E402

from orders.adapters.queue import JobQueue, UnknownQueue
from orders.context import AppContext
from orders.jobs import health_check
from orders.models import JobRecord, JobState


def test_inprocess_runs_and_records(ctx: AppContext) -> None:
    assert ctx.queue.backend == "inprocess"
    record_id = ctx.queue.enqueue(health_check, queue="plan")
    record = ctx.queue.status(record_id)
    assert record is not None and record.state == JobState.FINISHED
    assert record.backend == "inprocess" and record.attempts == 1
    assert record.result and record.result["pid"] == os.getpid()


def test_unknown_queue_is_rejected(ctx: AppContext) -> None:
    with pytest.raises(UnknownQueue):
        ctx.queue.enqueue(health_check, queue="nope")


def test_only_job_modules_can_be_enqueued(ctx: AppContext) -> None:
    with pytest.raises(ValueError, match="not a registered job module"):
        ctx.queue.enqueue(print, queue="plan")


@pytest.mark.slow  # a real RQ worker process
def test_rq_worker_runs_the_same_path(
    backend: str, db_factory, tmp_path: Path, redis_url: str
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, db_factory.url(backend), redis_url=redis_url)
    ctx = AppContext.from_settings(settings)
    queue = JobQueue(ctx)
    ids = [queue.enqueue(health_check, 7, queue=q) for q in ("cad", "plan")]
    dup = queue.enqueue(health_check, 7, queue="cad", dedupe_key="cfg-1")
    assert queue.enqueue(health_check, 7, queue="cad", dedupe_key="cfg-1") == dup, "deduped"
    for rid in (*ids, dup):
        assert queue.status(rid).state == JobState.QUEUED  # type: ignore[union-attr]
    env = {
        **os.environ,
        "HUNAR_DATABASE_URL": settings.database_url,
        "HUNAR_REDIS_URL": redis_url,
        "HUNAR_VAR_DIR": str(tmp_path / "var"),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "orders.cli", "worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with ctx.db.sessions() as s:
        records = [s.get_one(JobRecord, rid) for rid in (*ids, dup)]
    for r in records:
        assert r.state == JobState.FINISHED, (r.id, r.state, r.error)
        assert r.backend == "rq" and r.result and r.result["pid"] != os.getpid()
        assert r.args == [7]
    ctx.close()
