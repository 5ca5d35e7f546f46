"""Plate batching in planning: small prints of one material and colour share a plate, each part
stays traceable to its line, the plate is one job order, and one start starts every part."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from factories import make_configuration, make_shop, make_user
from sqlalchemy import select

from mes_bridge.intake import StatusEvent
from orders.adapters.outbox import flush_enqueues
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planning import approve, request_plan
from orders.commands.release import release
from orders.context import AppContext
from orders.models import Operation, OperationStatus, OutboxMessage, Schedule

P = Actor("planner")


@pytest.mark.slow  # builds several designs
def test_small_parts_share_a_plate_and_start_together(ctx: AppContext) -> None:
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        designs = [make_configuration(s, "spur_gear", teeth=t).id for t in (14, 16, 18)]
        for i, cfg in enumerate(designs):
            place_order(s, user.id, [LineRequest(cfg, 2)], f"k{i}", Actor("c", user.id), "PKR")
    flush_enqueues(ctx)
    sid = request_plan(ctx, "changeovers", 5, 14, P)
    with ctx.db.transaction() as s:
        row = s.get_one(Schedule, sid)
        plates = row.kpis["plates"]
        assert plates["count"] >= 1 and plates["setups_saved"] >= 1, plates
        layout = next(iter(plates["layouts"].values()))
        assert len({p["order_line_id"] for p in layout}) >= 2, "parts of several lines on one plate"
        plated = [a for a in row.assignments if a.plate_key]
        assert len({(a.machine_id, a.start, a.end) for a in plated}) == plates["count"]
        approve(s, sid, P)
        version = release(s, sid, P).version
        key = plated[0].plate_key
        members = sorted(a.operation_id for a in row.assignments if a.plate_key == key)
        orders = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "job_order")).all()
        plate_orders = [m for m in orders if m.payload["job"]["plate"]]
        assert len(plate_orders) == plates["count"]
        assert {p["order_line_id"] for p in plate_orders[0].payload["job"]["plate"]}
        jo = f"JO-{members[0]}-v{version}"
        started = StatusEvent(
            job_order_id=jo,
            kind="started",
            at=datetime.now(UTC),
            event_id=str(uuid.uuid4()),
            source="button",
        )
        assert apply_event(s, started).ok
        assert {s.get_one(Operation, i).status for i in members} == {OperationStatus.RUNNING}


@pytest.mark.slow  # builds several designs
def test_a_started_plate_moves_to_a_twin_printer_when_its_printer_breaks(ctx: AppContext) -> None:
    """Found by the full-size demo: a plate running on a printer that went down pinned the plan to
    a machine with no time left, and the rescheduling proposal came back MODEL_INVALID."""
    from orders.models import Machine, MachineState

    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        designs = [make_configuration(s, "spur_gear", teeth=t).id for t in (14, 16, 18)]
        place_order(
            s, user.id, [LineRequest(c, 2) for c in designs], "k", Actor("c", user.id), "PKR"
        )
    flush_enqueues(ctx)
    sid = request_plan(ctx, "changeovers", 5, 14, P)
    with ctx.db.transaction() as s:
        row = s.get_one(Schedule, sid)
        approve(s, sid, P)
        version = release(s, sid, P).version
        plate = next(a for a in row.assignments if a.plate_key)
        home = s.get_one(Machine, plate.machine_id)
        members = sorted(a.operation_id for a in row.assignments if a.plate_key == plate.plate_key)
        assert apply_event(
            s,
            StatusEvent(
                f"JO-{members[0]}-v{version}",
                "started",
                datetime.now(UTC),
                str(uuid.uuid4()),
                "button",
            ),
        ).ok
        down = StatusEvent(
            "",
            "machine_down",
            datetime.now(UTC),
            str(uuid.uuid4()),
            "mqtt",
            machine_id=home.id,
            reason="thermal runaway",
        )
        assert apply_event(s, down).proposal_requested
    flush_enqueues(ctx)
    with ctx.db.sessions() as s:
        newest = s.scalars(select(Schedule).order_by(Schedule.version.desc())).first()
        assert newest is not None and newest.id != sid
        assert newest.solver_status in ("OPTIMAL", "FEASIBLE"), newest.kpis.get("diagnostics")
        moved = {a.machine_id for a in newest.assignments if a.operation_id in members}
        twins = {
            m.id
            for m in s.scalars(
                select(Machine).where(
                    Machine.build_x_mm == home.build_x_mm,
                    Machine.build_y_mm == home.build_y_mm,
                    Machine.state != MachineState.DOWN,
                )
            )
        }
        assert len(moved) == 1 and moved <= twins, (moved, twins)
        assert {s.get_one(Operation, i).status for i in members} == {OperationStatus.RUNNING}


@pytest.mark.slow  # builds several designs
def test_a_pin_on_a_plate_member_moves_the_whole_plate(ctx: AppContext) -> None:
    """Issue 22, defect 17: a pin on one part of a released plate was silently ignored (the
    plate was planned where it was). Now the pin moves every part of the plate, to a printer
    with the plate's bed, and a printer with another bed is refused by name."""
    from orders.commands.planner_ops import pin_operation
    from orders.errors import DomainError
    from orders.models import Machine

    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        designs = [make_configuration(s, "spur_gear", teeth=t).id for t in (14, 16, 18)]
        place_order(
            s, user.id, [LineRequest(c, 2) for c in designs], "k", Actor("c", user.id), "PKR"
        )
    flush_enqueues(ctx)
    sid = request_plan(ctx, "changeovers", 5, 14, P)
    with ctx.db.transaction() as s:
        row = s.get_one(Schedule, sid)
        approve(s, sid, P)
        release(s, sid, P)
        plate = next(a for a in row.assignments if a.plate_key)
        members = sorted(a.operation_id for a in row.assignments if a.plate_key == plate.plate_key)
        home = s.get_one(Machine, plate.machine_id)
        same_bed = [
            m.id
            for m in s.scalars(select(Machine).order_by(Machine.id))
            if (m.build_x_mm, m.build_y_mm) == (home.build_x_mm, home.build_y_mm)
            and m.id != home.id
            and m.id in s.get_one(Operation, members[0]).eligible
        ]
        other_bed = [
            m.id
            for m in s.scalars(select(Machine).order_by(Machine.id))
            if (m.build_x_mm, m.build_y_mm) != (home.build_x_mm, home.build_y_mm)
            and m.id in s.get_one(Operation, members[0]).eligible
        ]
        assert same_bed, "the test shop needs a twin printer"
        if other_bed:
            with pytest.raises(DomainError, match="bed"):
                pin_operation(s, members[0], other_bed[0], None, P)
        later = plate.start.replace(tzinfo=UTC) if plate.start.tzinfo is None else plate.start
        pin_operation(s, members[0], same_bed[0], later, P)
        assert {s.get_one(Operation, i).pinned_machine_id for i in members} == {same_bed[0]}
    again = request_plan(ctx, "changeovers", 5, 14, P)
    with ctx.db.sessions() as s:
        newest = s.get_one(Schedule, again)
        assert newest.solver_status in ("OPTIMAL", "FEASIBLE"), newest.kpis.get("diagnostics")
        placed = {a.machine_id for a in newest.assignments if a.operation_id in members}
        assert placed == {same_bed[0]}, placed
