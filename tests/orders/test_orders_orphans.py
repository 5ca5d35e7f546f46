"""In-process jobs never die silently: a job whose web worker is gone runs again (once), and
infrastructure trouble inside an in-process job is retried like RQ retries it."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid

import pytest
from sqlalchemy import func, select

from orders.adapters import queue as queue_module
from orders.adapters.outbox import requeue_orphans
from orders.adapters.queue import InfrastructureError, process_alive, process_tag
from orders.context import AppContext
from orders.jobs import health_check
from orders.models import JobRecord, JobState


def _dead_tag() -> str:
    """The owner tag of a process that has already exited."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from orders.adapters.queue import process_tag; print(process_tag())",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def _orphan(ctx: AppContext, owner: str, dedupe: str, state: JobState = JobState.STARTED) -> str:
    record_id = str(uuid.uuid4())
    with ctx.db.transaction() as s:
        s.add(
            JobRecord(
                id=record_id,
                queue="cad",
                func="orders.jobs:health_check",
                args=[1],
                dedupe_key=dedupe,
                backend="inprocess",
                owner=owner,
                state=state,
            )
        )
    return record_id


def test_a_process_tag_tells_a_live_process_from_a_gone_one() -> None:
    assert process_alive(process_tag()) is True
    assert process_alive(_dead_tag()) is False
    assert process_alive("another-host:1:123") is None  # not ours to judge
    assert process_alive(None) is None


def test_a_request_does_not_join_a_job_whose_process_is_gone(ctx: AppContext) -> None:
    dedupe = f"cad:{uuid.uuid4().hex}"
    dead = _orphan(ctx, _dead_tag(), dedupe)
    alive = _orphan(ctx, process_tag(), f"cad:{uuid.uuid4().hex}")
    fresh = ctx.queue.enqueue(health_check, 1, queue="cad", dedupe_key=dedupe)
    assert fresh != dead
    with ctx.db.sessions() as s:
        old = s.get_one(JobRecord, dead)
        assert old.state == JobState.FAILED and "is gone" in (old.error or "")
        assert s.get_one(JobRecord, fresh).state == JobState.FINISHED
        assert s.get_one(JobRecord, alive).state == JobState.STARTED  # its process runs: kept


def test_orphans_run_again_exactly_once_when_two_workers_sweep_at_once(ctx: AppContext) -> None:
    dedupe = f"cad:{uuid.uuid4().hex}"
    dead = _orphan(ctx, _dead_tag(), dedupe, JobState.QUEUED)
    gate = threading.Barrier(2)
    counts: list[int] = []

    def sweep() -> None:
        gate.wait()
        counts.append(requeue_orphans(ctx))

    workers = [threading.Thread(target=sweep) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert sorted(counts) == [0, 1]
    with ctx.db.sessions() as s:
        runs = s.scalars(select(JobRecord).where(JobRecord.dedupe_key == dedupe)).all()
        assert {r.id: r.state for r in runs if r.id == dead} == {dead: JobState.FAILED}
        assert [r.state for r in runs if r.id != dead] == [JobState.FINISHED]
    assert requeue_orphans(ctx) == 0, "a second pass finds nothing left"


def test_infrastructure_trouble_in_an_in_process_job_is_retried(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slicer timeout under load (or a lost database) is not the end of the job: the
    in-process executor tries again after a delay, as RQ's Retry would, then gives up."""
    import orders.jobs

    calls = {"n": 0}

    def flaky(c: AppContext, *ids: int | str, job_record_id: str) -> dict[str, int]:
        calls["n"] += 1
        if calls["n"] < 3:
            raise InfrastructureError("slicer timed out after 60 s")
        return {"calls": calls["n"]}

    flaky.__module__ = "orders.jobs"  # the queue runs only functions of its job module
    monkeypatch.setattr(orders.jobs, "health_check", flaky)
    monkeypatch.setattr(queue_module, "INPROCESS_RETRY_S", (0.05, 0.05, 0.05))
    ctx.settings.inprocess_jobs = "thread"
    done = threading.Event()
    record_id = ctx.queue.enqueue(health_check, 1, queue="cad")
    for _ in range(200):
        with ctx.db.sessions() as s:
            record = s.get_one(JobRecord, record_id)
            if record.state in (JobState.FINISHED, JobState.FAILED):
                done.set()
                break
        threading.Event().wait(0.05)
    assert done.is_set()
    assert record.state == JobState.FINISHED, record.error
    assert record.result == {"calls": 3}
    assert record.attempts == 3
    with ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(JobRecord)) == 1


def test_a_locked_database_around_an_in_process_job_is_retried(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a SQLite writer can find the database locked even while the job's own record
    is written (seen in the soak: a plan job lost at its "started" mark). That is infrastructure
    trouble: the job runs again, once, and finishes."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    real, calls = queue_module.execute, {"n": 0}

    def locked_once(record_id: str, path: str, *ids: int | str, ctx: AppContext) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("locked"))
        return real(record_id, path, *ids, ctx=ctx)

    monkeypatch.setattr(queue_module, "execute", locked_once)
    monkeypatch.setattr(queue_module, "INPROCESS_RETRY_S", (0.05, 0.05, 0.05))
    ctx.settings.inprocess_jobs = "thread"
    record_id = ctx.queue.enqueue(health_check, 1, queue="cad")
    for _ in range(200):
        with ctx.db.sessions() as s:
            record = s.get_one(JobRecord, record_id)
        if record.state in (JobState.FINISHED, JobState.FAILED):
            break
        threading.Event().wait(0.05)
    assert record.state == JobState.FINISHED, record.error
    assert calls["n"] == 2 and record.attempts == 1
