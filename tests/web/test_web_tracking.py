"""Tracking: the per-line timeline follows the audit events, and the ETA follows the plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from webshop_helpers import ENCLOSURE, MakeShop, shop_fixture  # noqa: F401  (the make_shop fixture)

from orders.commands.audit import Actor, transition
from orders.lifecycle import Status
from orders.models import Assignment, Operation, OrderLine, Schedule, ScheduleState


def test_eta_follows_the_plan_in_force_and_timeline_follows_events(make_shop: MakeShop) -> None:
    shop = make_shop()
    alice = shop.shopper()
    config_id = shop.save_design(alice)
    order = alice.api(
        "POST",
        "/api/orders",
        {"lines": [{"configuration_id": config_id}], "idempotency_key": "eta"},
    ).json
    line_id = order["lines"][0]["id"]
    assert order["lines"][0]["eta"] is None
    finish = datetime(2030, 1, 2, 15, 30, tzinfo=UTC)
    with shop.ctx.db.transaction() as s:
        line = s.get_one(OrderLine, line_id)
        if line.status == Status.PLACED:  # a cached build may have made it cad_ready already
            transition(s, line, Status.CAD_READY, Actor.system("cad"))
        transition(s, line, Status.SCHEDULED, Actor.system("planner"))
        op = Operation(
            order_line_id=line_id,
            seq=99,  # clear of the operations a (cached, fast) CAD build may already have made
            step="print",
            process="fdm",
            quantity=1,
            eligible={"fdm-mk4-01": 60},
        )
        s.add(op)
        s.flush()
        plan = Schedule(
            version=1, state=ScheduleState.RELEASED, objective="tardiness", solver_status="optimal"
        )
        s.add(plan)
        s.flush()
        s.add(
            Assignment(
                schedule_id=plan.id,
                operation_id=op.id,
                machine_id="fdm-mk4-01",
                start=finish - timedelta(hours=1),
                end=finish,
            )
        )
    tracked = alice.api("GET", f"/api/orders/{order['id']}").json["lines"][0]
    assert tracked["eta"].startswith("2030-01-02T15:30")
    reached = {s["status"]: s for s in tracked["timeline"]}
    assert reached["cad_ready"]["reached"] and reached["cad_ready"]["at"]
    assert reached["scheduled"]["reached"] and not reached["in_production"]["reached"]
    later = finish + timedelta(days=1)
    with shop.ctx.db.transaction() as s:  # a new plan supersedes the first: the ETA moves
        s.get_one(Schedule, plan.id).state = ScheduleState.SUPERSEDED
        newer = Schedule(
            version=2, state=ScheduleState.RELEASED, objective="tardiness", solver_status="optimal"
        )
        s.add(newer)
        s.flush()
        s.add(
            Assignment(
                schedule_id=newer.id,
                operation_id=op.id,
                machine_id="fdm-mk4-02",
                start=later - timedelta(hours=1),
                end=later,
            )
        )
    tracked = alice.api("GET", f"/api/orders/{order['id']}").json["lines"][0]
    assert tracked["eta"].startswith("2030-01-03T15:30")  # the API stays in UTC
    page = alice.client.get(f"/orders/{order['id']}").get_data(as_text=True)
    assert "2030-01-03 20:30 PKT" in page and 'class="done" data-status="scheduled"' in page
