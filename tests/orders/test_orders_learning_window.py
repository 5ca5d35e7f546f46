"""The run-time correction reads only its own family's newest jobs, and learns exactly what the
whole finished-job history says about that family: the same window, the same median."""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime, timedelta

from factories import make_configuration, make_user, released_plan
from sqlalchemy import select

from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.context import AppContext
from orders.models import Assignment, Operation, OrderLine, ProductConfiguration, Schedule
from orders.models.operations import OperationStatus
from orders.queries.floor_learning import Correction, samples, time_correction
from orders.shop import shop_numbers

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


def _history(ctx: AppContext) -> None:
    """Two families' finished jobs, interleaved in time: some placed by an older released plan
    on another machine as well (the newer plan is where they ran), one without an estimate
    for the machine it ran on (left out)."""
    released_plan(ctx, qty=2)
    with ctx.db.transaction() as s:
        user = make_user(s)
        cfg = make_configuration(s, "bracket")
        key = uuid.uuid4().hex
        other = place_order(s, user.id, [LineRequest(cfg.id, 1)], key, Actor("c", user.id), "PKR")
        plan = s.scalars(select(Schedule).where(Schedule.state == "released")).one()
        older = Schedule(
            version=plan.version - 1,
            state="superseded",
            objective="due_dates",
            solver_status="FEASIBLE",
            released_at=T0 - timedelta(days=1),
        )
        s.add(older)
        template = next(
            s.get_one(Operation, a.operation_id)
            for a in plan.assignments
            if s.get_one(Operation, a.operation_id).setup_family is not None
        )
        machines = sorted(template.eligible)
        lines = [template.order_line_id, other.order.lines[0].id]
        for i in range(50):
            estimate = {machines[0]: 60, machines[1]: 90}
            if i == 7:
                estimate = {machines[1]: 90}  # no estimate where it ran: not a sample
            job = Operation(
                order_line_id=lines[i % 2 if i < 30 else 0],
                seq=200 + i,
                step=template.step,
                process=template.process,
                quantity=1,
                eligible=estimate,
                setup_family=template.setup_family,
                status=OperationStatus.DONE,
                started_at=T0 + timedelta(hours=3 * i),
                ended_at=T0 + timedelta(hours=3 * i, minutes=60 * (0.6 + (i * 7 % 11) / 10)),
            )
            s.add(job)
            s.flush()
            at = {"start": job.started_at, "end": job.ended_at}
            s.add(
                Assignment(schedule_id=plan.id, operation_id=job.id, machine_id=machines[0], **at)
            )
            if i % 3 == 0:  # the older plan had it on the other machine
                s.add(
                    Assignment(
                        schedule_id=older.id, operation_id=job.id, machine_id=machines[1], **at
                    )
                )


def _from_history(ctx: AppContext, family: str, process: str) -> Correction:
    """The rule read off the whole history: the family's newest window_jobs samples."""
    rules = shop_numbers().learning
    with ctx.db.sessions() as s:
        mine = [x for x in samples(s) if x.family_key == family and x.process == process]
    mine = mine[: rules.window_jobs]
    if len(mine) < rules.min_jobs:
        return Correction(1.0, len(mine))
    return Correction(round(rules.bounded(statistics.median(x.ratio for x in mine)), 3), len(mine))


def test_the_correction_is_the_familys_window_of_the_whole_history(ctx: AppContext) -> None:
    _history(ctx)
    with ctx.db.sessions() as s:
        families = sorted(
            {
                s.get_one(ProductConfiguration, line.configuration_id).family_key
                for line in s.scalars(select(OrderLine))
            }
        )
        history = samples(s)
        assert families == ["bracket", "enclosure"]
        assert {x.machine_id for x in history} == {history[0].machine_id}, "newest plan's machine"
        for family in families:
            expected = _from_history(ctx, family, "fdm")
            assert expected.jobs >= shop_numbers().learning.min_jobs
            assert time_correction(s, family, "fdm") == expected, family
        assert time_correction(s, "enclosure", "cnc") == Correction(1.0, 0)
