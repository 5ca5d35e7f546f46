"""The CAD job through the order book: placed lines become cad_ready with operations and files."""

from __future__ import annotations

from factories import make_configuration, make_shop, make_user
from sqlalchemy import func, select

from orders.commands.artifacts import request_build
from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.context import AppContext
from orders.lifecycle import Status
from orders.models import Artifact, JobRecord, JobState, Operation, Order
from orders.queries.artifacts import build_status, open_artifact


def test_placed_enclosure_gets_artifacts_operations_and_cad_ready(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        order = place_order(
            s, user.id, [LineRequest(cfg.id, 3)], "k", Actor(user.email, user.id), "PKR"
        ).order
        order_id, cfg_id, user_id = order.id, cfg.id, user.id
    assert build_status(ctx, cfg_id).state == "none"
    job_id = request_build(ctx, cfg_id)
    with ctx.db.sessions() as s:
        job = s.get_one(JobRecord, job_id)
        assert job.state == JobState.FINISHED, job.error
        assert job.result and job.result["ok"] and job.result["ready_lines"], job.result
        kinds = set(s.scalars(select(Artifact.kind).where(Artifact.configuration_id == cfg_id)))
        assert {"step", "stl", "3mf", "glb"} <= kinds
        order = s.get_one(Order, order_id)
        assert order.status == Status.CAD_READY
        line = order.lines[0]
        assert line.status == Status.CAD_READY
        ops = s.scalars(
            select(Operation).where(Operation.order_line_id == line.id).order_by(Operation.seq)
        ).all()
        assert ops[0].process == "fdm" and ops[0].eligible and ops[-1].step == "pack"
        assert all(o.eligible for o in ops), [(o.step, o.eligible) for o in ops]
        assert ops[0].setup_family and ops[0].setup_family.startswith("fdm:pla:")
        step_id = s.scalar(
            select(Artifact.id).where(Artifact.configuration_id == cfg_id, Artifact.kind == "step")
        )
        customer = s.get_one(type(user), user_id)
        other = make_user(s)
    status = build_status(ctx, cfg_id)
    assert status.state == "ready" and status.preview_artifact_id and status.metrics
    path, kind, name = open_artifact(ctx, step_id, customer)
    assert kind == "step" and path.read_bytes().startswith(b"ISO-10303-21")
    import pytest

    from orders.errors import NotFound

    with pytest.raises(NotFound):
        open_artifact(ctx, step_id, other)
    # a second request is a cache hit: no new files, same rows
    again = request_build(ctx, cfg_id)
    with ctx.db.sessions() as s:
        assert s.get_one(JobRecord, again).result["cache_hit"] is True  # type: ignore[index]
        assert s.scalar(select(func.count()).select_from(Artifact)) == len(kinds)
