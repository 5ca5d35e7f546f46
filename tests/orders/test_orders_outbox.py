"""Placing an order writes its CAD request to the outbox in the same transaction; a queue outage
leaves the request pending and a later pass delivers it exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import make_configuration, make_settings, make_shop, make_user
from sqlalchemy import select

from orders.adapters.outbox import flush_enqueues
from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.context import AppContext
from orders.lifecycle import Status
from orders.models import JobRecord, OrderLine, OutboxMessage, OutboxStatus


def _place(ctx: AppContext) -> int:
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        order = place_order(
            s,
            user.id,
            [LineRequest(cfg.id, 1), LineRequest(cfg.id, 2, "express")],
            "k",
            Actor("c", user.id),
            "PKR",
        ).order
        return order.id


def test_order_and_cad_request_commit_together(ctx: AppContext) -> None:
    _place(ctx)
    with ctx.db.sessions() as s:
        msgs = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "enqueue")).all()
    assert len(msgs) == 1, "two lines of one design ask for one build"
    assert msgs[0].status == OutboxStatus.PENDING and msgs[0].payload["func"] == "build_artifacts"
    assert flush_enqueues(ctx) == 1
    assert flush_enqueues(ctx) == 0, "delivered once"
    with ctx.db.sessions() as s:
        assert {ln.status for ln in s.scalars(select(OrderLine))} == {Status.CAD_READY}


@pytest.mark.slow  # a real RQ worker builds the CAD
def test_queue_outage_keeps_the_request_until_it_can_be_delivered(
    backend: str, db_factory, tmp_path: Path, artifact_cache: Path, redis_url: str
) -> None:  # type: ignore[no-untyped-def]
    url = db_factory.url(backend)
    dead = AppContext.from_settings(
        make_settings(tmp_path, url, redis_url="redis://127.0.0.1:1/0", artifact_dir=artifact_cache)
    )
    _place(dead)
    assert flush_enqueues(dead) == 0
    with dead.db.sessions() as s:
        msg = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "enqueue")).one()
        assert msg.status == OutboxStatus.PENDING and msg.attempts == 1
        assert "ConnectionError" in (msg.last_error or "")
        records = s.scalars(select(JobRecord)).all()
        assert [r.state.value for r in records] == ["failed"], "a record that never got queued"
        assert "broker unavailable" in (records[0].error or "")
    live = AppContext.from_settings(
        make_settings(tmp_path, url, redis_url=redis_url, artifact_dir=artifact_cache)
    )
    with live.db.transaction() as s:  # as after a long outage: the next retry is minutes away
        s.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "enqueue")
        ).one().next_attempt_at = datetime.now(UTC) + timedelta(minutes=4)
    assert flush_enqueues(dead) == 0, "while the broker is away, backoff holds"
    assert flush_enqueues(live) == 1, "once it answers, waiting messages go at once"
    env = {
        **os.environ,
        "HUNAR_DATABASE_URL": url,
        "HUNAR_REDIS_URL": redis_url,
        "HUNAR_ARTIFACT_DIR": str(artifact_cache),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "orders.cli", "worker", "cad", "--burst"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with live.db.sessions() as s:
        assert {ln.status for ln in s.scalars(select(OrderLine))} == {Status.CAD_READY}
        states = sorted(r.state.value for r in s.scalars(select(JobRecord)))
        assert states == ["failed", "finished"]
    dead.close()
    live.close()


def test_an_order_never_joins_a_build_that_is_already_running(ctx: AppContext) -> None:
    """Found by the load harness's review: a running build may have read its waiting lines
    already, so an order placed then must get a job of its own (a cache hit), or its line would
    stay `placed` for good. A preview request may still join the running build."""
    from orders.jobs import build_artifacts
    from orders.models import JobState, ProductConfiguration
    from orders.queries.artifacts import dedupe_key

    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        key = dedupe_key(s.get_one(ProductConfiguration, cfg.id).config_hash)
        s.add(
            JobRecord(
                id="running-1",
                queue="cad",
                func="orders.jobs:build_artifacts",
                args=[cfg.id],
                dedupe_key=key,
                backend="inprocess",
                state=JobState.STARTED,
            )
        )
    assert ctx.queue.enqueue(build_artifacts, cfg.id, queue="cad", dedupe_key=key) == "running-1"
    with ctx.db.transaction() as s:
        place_order(s, user.id, [LineRequest(cfg.id, 1)], "k", Actor("c", user.id), "PKR")
    assert flush_enqueues(ctx) == 1
    with ctx.db.sessions() as s:
        assert {ln.status for ln in s.scalars(select(OrderLine))} == {Status.CAD_READY}
        assert s.scalar(select(JobRecord).where(JobRecord.id != "running-1")) is not None
