"""Learning from the floor: finished jobs' actual minutes correct the quote and the promise,
and the planner's report shows estimate against actual per family and machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from factories import released_plan
from sqlalchemy import select

import configurator
from orders.context import AppContext
from orders.models import Assignment, Operation, OrderLine, ProductConfiguration, Schedule
from orders.models.operations import OperationStatus
from orders.queries.catalog import load_config
from orders.queries.designs import live_quote
from orders.queries.floor_learning import samples, time_correction
from orders.queries.reports import reports
from orders.shop import shop_numbers

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _finish_jobs(ctx: AppContext, ratios: list[float]) -> tuple[str, str, int]:
    """The released plan's print job, finished at ratios[0] x its estimate, plus one more
    finished copy per further ratio (same line, machine and estimate)."""
    released_plan(ctx, qty=2)
    with ctx.db.transaction() as s:
        schedule = s.scalars(select(Schedule).where(Schedule.state == "released")).one()
        first = next(
            a
            for a in schedule.assignments
            if s.get_one(Operation, a.operation_id).setup_family is not None
        )
        op = s.get_one(Operation, first.operation_id)
        estimate = op.eligible[first.machine_id]
        for i, ratio in enumerate(ratios):
            job = (
                op
                if i == 0
                else Operation(
                    order_line_id=op.order_line_id,
                    seq=100 + i,
                    step=op.step,
                    process=op.process,
                    quantity=op.quantity,
                    eligible=dict(op.eligible),
                    setup_family=op.setup_family,
                )
            )
            if i:
                s.add(job)
                s.flush()
                s.add(
                    Assignment(
                        schedule_id=schedule.id,
                        operation_id=job.id,
                        machine_id=first.machine_id,
                        start=first.start,
                        end=first.end,
                    )
                )
            start = T0 + timedelta(days=i)
            job.status = OperationStatus.DONE
            job.started_at, job.ended_at = start, start + timedelta(minutes=estimate * ratio)
        line = s.get_one(OrderLine, op.order_line_id)
        family = s.get_one(ProductConfiguration, line.configuration_id).family_key
        return family, first.machine_id, line.configuration_id


def test_no_correction_until_enough_jobs_have_finished(ctx: AppContext) -> None:
    family, _, _ = _finish_jobs(ctx, [1.5] * (shop_numbers().learning.min_jobs - 1))
    with ctx.db.sessions() as s:
        learned = time_correction(s, family, "fdm")
    assert learned.factor == 1.0 and learned.jobs == shop_numbers().learning.min_jobs - 1


def test_finished_jobs_correct_the_quote_promise_and_fill_the_report(ctx: AppContext) -> None:
    family, machine, cfg_id = _finish_jobs(ctx, [1.4, 1.5, 1.6, 3.9])
    with ctx.db.sessions() as s:
        assert len(samples(s)) == 4
        learned = time_correction(s, family, "fdm")
        assert learned.jobs == 4 and learned.factor == 1.55  # the median: one outlier is ignored
        config = load_config(s.get_one(ProductConfiguration, cfg_id))
        lq = live_quote(s, config, 1, "standard", "PKR")
        plain = configurator.quote(config, 1, "standard", lq.quote.metrics)
        minutes = lq.quote.routing[0].minutes
        assert minutes == round(plain.routing[0].minutes * 1.55, 2)
        machine_time = lq.quote.line("machine_time")
        assert machine_time is not None and machine_time.amount > plain.line("machine_time").amount
        assert any("learned from finished jobs" in n for n in lq.quote.notes)
        series = {x.key: x for x in reports(s, datetime.now(UTC))}
        label, value = series["estimate_accuracy"].points[0]
        assert label == f"{family} on {machine} (4 jobs)" and value == 1.55


def test_the_correction_is_bounded(ctx: AppContext) -> None:
    family, _, _ = _finish_jobs(ctx, [9.0, 9.0, 9.0])
    with ctx.db.sessions() as s:
        assert (
            time_correction(s, family, "fdm").factor
            == shop_numbers().learning.highest_percent / 100
        )
