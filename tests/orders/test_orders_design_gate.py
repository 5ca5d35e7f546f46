"""No CAD for a design no machine can make: refused at once with feasibility's reasons."""

from __future__ import annotations

import pytest
from factories import make_configuration, make_shop, make_user
from sqlalchemy import delete, func, select

import configurator
from orders.commands.artifacts import request_build
from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.context import AppContext
from orders.errors import DomainError, NotMakeable
from orders.jobs import build_artifacts
from orders.lifecycle import Status
from orders.models import (
    Artifact,
    JobRecord,
    Machine,
    OrderLine,
    OutboxMessage,
    ProductConfiguration,
)
from orders.queries.catalog import load_config
from orders.queries.shop_state import machine_specs

# valid (validate() accepts it) but 254 mm long: no resin printer of the shop takes it
RESIN_TOO_BIG = {"inner_length": 250, "process": "resin", "material": "resin"}


def _too_big(ctx: AppContext) -> tuple[int, configurator.Feasibility]:
    with ctx.db.transaction() as s:
        make_shop(s)
        row = make_configuration(s, **RESIN_TOO_BIG)
        verdict = configurator.feasible(load_config(row), machine_specs(s), 1)
        return row.id, verdict


def test_a_design_no_machine_can_make_is_refused_with_the_reason_and_no_job(
    ctx: AppContext,
) -> None:
    cfg_id, verdict = _too_big(ctx)
    assert not verdict.ok and verdict.reasons[0].code == "exceeds_work_envelope"
    with pytest.raises(NotMakeable) as caught:
        request_build(ctx, cfg_id)
    err = caught.value
    assert err.code == "not_makeable"
    assert verdict.reasons[0].message in err.message  # the very reason feasibility gives
    assert set(err.fields) == {"size"} and "exceeds_work_envelope" in err.fields["size"]
    with ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(JobRecord)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_a_design_too_big_for_every_machine_cannot_be_ordered(ctx: AppContext) -> None:
    cfg_id, verdict = _too_big(ctx)
    with ctx.db.transaction() as s:
        user = make_user(s)
        with pytest.raises(DomainError) as caught:
            place_order(
                s, user.id, [LineRequest(cfg_id, 1)], "big", Actor(user.email, user.id), "PKR"
            )
    assert "cannot be made" in caught.value.message
    assert verdict.reasons[0].message in caught.value.message
    assert caught.value.fields == {"lines[0]": "not orderable"}
    with ctx.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(JobRecord)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
        assert s.get(ProductConfiguration, cfg_id) is not None  # saving it was allowed


def test_a_build_whose_only_machine_left_the_shop_holds_its_lines_without_cad(
    ctx: AppContext,
) -> None:
    """The worker checks again: the build was asked for while an FDM printer existed; by the
    time it runs, none does. The line goes on hold with the reason; nothing is built."""
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        order = place_order(
            s, user.id, [LineRequest(cfg.id, 1)], "gone", Actor(user.email, user.id), "PKR"
        ).order
        cfg_id, line_id = cfg.id, order.lines[0].id
    with ctx.db.transaction() as s:
        s.execute(delete(Machine).where(Machine.process == "fdm"))
    result = build_artifacts(ctx, cfg_id, job_record_id="gate-test")
    assert not result["ok"] and "no machine can make it" in result["error"]
    assert result["held_lines"] == [line_id]
    with ctx.db.sessions() as s:
        line = s.get_one(OrderLine, line_id)
        assert line.status == Status.ON_HOLD and "no machine can make it" in (
            line.hold_reason or ""
        )
        assert s.scalar(select(func.count()).select_from(Artifact)) == 0
