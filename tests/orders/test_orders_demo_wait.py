"""`hunar demo` never waits forever on a queued job the broker lost (Redis restarted without
persistence, or its database was flushed): the wait has the job queued again and follows the new
one, a started job that vanished fails the wait at once, and every wait ends with an error that
names the job. Real RQ on the session's private Redis; the worker, where there is one, is the
real `hunar worker` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from factories import make_configuration, make_settings, make_shop
from private_services import PrivateRedis
from redis import Redis
from rq.job import Job
from sqlalchemy import select

from orders.adapters import outbox
from orders.commands.audit import Actor
from orders.commands.planning import create_proposal
from orders.context import AppContext
from orders.demo import DemoReport, _JobWait, await_plan, build_all
from orders.models import JobRecord, JobState, Schedule


class _Bar:
    def __init__(self, on_first_update: Callable[[], None]) -> None:
        self.on_first_update: Callable[[], None] | None = on_first_update

    def update(self, n: int) -> None:
        if self.on_first_update is not None:  # the jobs are queued by now
            hook, self.on_first_update = self.on_first_update, None
            hook()


def _progress(on_first_update: Callable[[], None]) -> Any:
    @contextmanager
    def progress(label: str, total: int) -> Iterator[_Bar]:
        yield _Bar(on_first_update)

    return progress


@pytest.fixture(params=["sqlite"])
def rq_ctx(
    request: pytest.FixtureRequest,
    db_factory: Any,
    tmp_path: Path,
    artifact_cache: Path,
    redis_url: str,
) -> Iterator[AppContext]:
    """RQ on a database of our own on the session's private Redis, and no worker.

    The plan waits run on PostgreSQL: on SQLite the outbox flush they start on a thread trips
    over its own nested job-record write ("database is locked"), which is not what they test."""
    settings = make_settings(
        tmp_path, db_factory.url(request.param), redis_url=redis_url, artifact_dir=artifact_cache
    )
    ctx = AppContext.from_settings(settings)
    with ctx.db.transaction() as s:
        make_shop(s)
        make_configuration(s)
    yield ctx
    ctx.close()


def _records(ctx: AppContext) -> list[JobRecord]:
    with ctx.db.sessions() as s:
        return list(s.scalars(select(JobRecord).order_by(JobRecord.created_at)))


def test_build_all_queues_a_lost_job_again_and_waits_for_the_new_one(
    rq_ctx: AppContext, redis_server: PrivateRedis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "LOST_GRACE_S", 0)  # "queued long ago": no grace to sit out
    monkeypatch.setattr(_JobWait, "CHECK_S", 0.5)  # ask the broker every pass, not every 5 s
    with pytest.raises(TimeoutError) as failure:  # no worker: the wait must still end
        build_all(rq_ctx, _progress(lambda: redis_server.flush(redis_url)), DemoReport(), 3)
    records = _records(rq_ctx)
    lost = [r for r in records if r.state == JobState.FAILED]
    again = [r for r in records if r.state == JobState.QUEUED]
    assert lost and len(again) == len(lost), [(r.id, r.state, r.error) for r in records]
    assert all("lost by the broker" in (r.error or "") for r in lost)
    with Redis.from_url(redis_url) as conn:
        assert all(Job.exists(r.id, conn) for r in again), "queued again on the broker"
        assert not any(Job.exists(r.id, conn) for r in lost)
    message = str(failure.value)
    assert message.startswith("CAD build: gave up after 3 s"), message
    assert again[0].id in message and "cad queue" in message, "names the new job and its queue"
    assert not any(r.id in message for r in lost)


def test_a_started_job_that_vanished_past_its_time_limit_fails_the_wait(
    rq_ctx: AppContext,
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=rq_ctx.settings.cad_job_timeout_s + 120)
    with rq_ctx.db.transaction() as s:
        s.add(
            JobRecord(
                id="vanished-1",
                queue="cad",
                func="orders.jobs:build_artifacts",
                args=[1],
                backend="rq",
                state=JobState.STARTED,
                started_at=started,
            )
        )
    wait = _JobWait(rq_ctx, "CAD build", ["vanished-1"], timeout_s=3600, stall_s=3600)
    with pytest.raises(RuntimeError, match=r"vanished-1 \(build_artifacts\(1\) on the cad queue"):
        wait.poll()


@pytest.mark.parametrize("rq_ctx", ["postgresql"], indirect=True)
def test_await_plan_without_a_worker_ends_naming_the_solve_job(rq_ctx: AppContext) -> None:
    with rq_ctx.db.transaction() as s:
        sid = create_proposal(s, "due_dates", 1, 7, Actor("test planner")).id
    with pytest.raises(TimeoutError) as failure:
        await_plan(rq_ctx, sid, 1, _progress(lambda: None), "solving", grace_s=8)
    (record,) = _records(rq_ctx)
    assert record.state == JobState.QUEUED and record.id in str(failure.value)
    assert str(failure.value).startswith(f"plan {sid}: gave up after 9 s"), str(failure.value)
    assert "plan queue" in str(failure.value)


@pytest.mark.slow
@pytest.mark.parametrize("rq_ctx", ["postgresql"], indirect=True)
def test_a_lost_solve_is_queued_again_and_a_real_worker_solves_it(
    rq_ctx: AppContext, redis_server: PrivateRedis, redis_url: str, tmp_path: Path
) -> None:
    """The broker forgets the queued solve before any worker saw it; a worker starts only then.
    Without the wait noticing, the plan would stay pending for good."""
    with rq_ctx.db.transaction() as s:
        sid = create_proposal(s, "due_dates", 1, 7, Actor("test planner")).id
    env = {
        **os.environ,
        "HUNAR_DATABASE_URL": rq_ctx.settings.database_url,
        "HUNAR_REDIS_URL": redis_url,
        "HUNAR_VAR_DIR": str(tmp_path / "var"),
        "HUNAR_ARTIFACT_DIR": str(rq_ctx.settings.resolved_artifact_dir()),
    }
    workers: list[subprocess.Popen[bytes]] = []

    def lose_the_job_then_start_a_worker() -> None:
        deadline = time.monotonic() + 60  # the solve is handed to RQ on the wait's own thread
        with Redis.from_url(redis_url) as conn:
            while not (queued := _records(rq_ctx)) or not Job.exists(queued[0].id, conn):
                assert time.monotonic() < deadline, "the solve was never queued"
                time.sleep(0.1)
        redis_server.flush(redis_url)
        log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed with the worker
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "orders.cli", "worker", "plan"],
                env=env,
                cwd=tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    try:
        await_plan(rq_ctx, sid, 1, _progress(lose_the_job_then_start_a_worker), "solving", 60)
    finally:
        for w in workers:
            w.terminate()
            w.wait(30)
    with rq_ctx.db.sessions() as s:
        assert s.get_one(Schedule, sid).solver_status != "PENDING"
    first, second = _records(rq_ctx)
    assert first.state == JobState.FAILED and "lost by the broker" in (first.error or "")
    assert second.state == JobState.FINISHED and second.dedupe_key == f"plan:{sid}"
