"""The delivery promise through capable-to-promise applies what the floor learned, exactly as
the quote and the capacity promise do: one correction, one function (`time_correction`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from factories import released_plan
from sqlalchemy import select

import configurator
from orders.commands.designs import price_line
from orders.context import AppContext
from orders.models import Assignment, Operation, OrderLine, ProductConfiguration, Schedule, User
from orders.models.operations import OperationStatus
from orders.queries.catalog import load_config
from orders.queries.designs import live_quote
from orders.queries.floor_learning import time_correction
from orders.queries.promise import capable_to_promise, promise_for
from orders.queries.shop_state import metrics_for, shop_load, shop_timezone
from orders.shop import shop_numbers


def _jobs_ran_twice_their_plan(ctx: AppContext) -> int:
    """A released plan whose print job, and more finished copies of it, each ran 2x the
    minutes the plan gave it; returns the design's configuration id."""
    released_plan(ctx, qty=2)
    with ctx.db.transaction() as s:
        schedule = s.scalars(select(Schedule).where(Schedule.state == "released")).one()
        first = next(
            a
            for a in schedule.assignments
            if s.get_one(Operation, a.operation_id).setup_family is not None
        )
        op = s.get_one(Operation, first.operation_id)
        planned = op.eligible[first.machine_id]
        start = datetime.now(UTC) - timedelta(days=10)
        for i in range(shop_numbers().learning.min_jobs):
            job = op
            if i:
                job = Operation(
                    order_line_id=op.order_line_id,
                    seq=100 + i,
                    step=op.step,
                    process=op.process,
                    quantity=op.quantity,
                    eligible=dict(op.eligible),
                    setup_family=op.setup_family,
                )
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
            job.status = OperationStatus.DONE
            job.started_at = start + timedelta(days=i)
            job.ended_at = job.started_at + timedelta(minutes=planned * 2)
        return s.get_one(OrderLine, op.order_line_id).configuration_id


def test_the_ctp_promise_applies_the_learned_run_time(ctx: AppContext) -> None:
    """Jobs of the family ran twice their planned minutes: a new order of it is promised
    through CTP later than the un-learned minutes would promise it, and exactly as the
    configurator promises with the learned factor."""
    cfg_id = _jobs_ran_twice_their_plan(ctx)
    now = datetime.now(UTC)
    qty = 40  # long enough that twice the print time moves the ship date by days
    with ctx.db.sessions() as s:
        config = load_config(s.get_one(ProductConfiguration, cfg_id))
        learned = time_correction(s, config.family_key, str(config.values["process"]))
        assert learned.factor == 2.0
        ctp = capable_to_promise(s, now)
        assert ctp is not None, "a plan is released: the promise goes through CTP"
        local_now = now.astimezone(shop_timezone(s))
        load = shop_load(s)
        plain = configurator.promise(config, qty, "standard", load, local_now, ctp=ctp)
        corrected = configurator.promise(
            config, qty, "standard", load, local_now, ctp=ctp, time_factor=learned.factor
        )
        assert plain.method == corrected.method == "ctp"
        assert plain.ship_date is not None and corrected.ship_date is not None
        assert corrected.ship_date > plain.ship_date
        promised = promise_for(s, config, qty, "standard", now)
        assert promised == corrected.ship_date, "the order is promised with what was learned"


def test_the_price_an_order_keeps_is_the_learned_price_the_customer_saw(ctx: AppContext) -> None:
    """`price_line` (the quote an order keeps) applies the same learned factor as the live
    quote on the page, so placing the order does not change the price that was shown."""
    cfg_id = _jobs_ran_twice_their_plan(ctx)
    with ctx.db.transaction() as s:
        row = s.get_one(ProductConfiguration, cfg_id)
        config = load_config(row)
        line = s.scalars(select(OrderLine).where(OrderLine.configuration_id == cfg_id)).first()
        assert line is not None
        customer = s.get_one(User, line.order.customer_id)
        shown = live_quote(s, config, 3, "standard", "PKR", viewer=customer)
        assert shown.configuration_id == cfg_id, "the customer sees the measured design"
        kept = price_line(s, row, 3, "standard", customer.id, "PKR")
        unlearned = configurator.quote(config, 3, "standard", metrics_for(s, row), currency="PKR")
    assert kept.total == shown.quote.total.quantize(Decimal("0.01"))
    assert kept.total != unlearned.total.quantize(Decimal("0.01")), "learning moved the price"
