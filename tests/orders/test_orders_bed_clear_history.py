"""Which printer a finished print dirtied: the one its job ran on, not every printer some plan
once gave it. A plan released later may move a job to another printer, and a proposal that was
never released placed nothing on the floor; only the plan in force when the job started says
where it printed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from factories import make_configuration, make_shop, make_user
from sqlalchemy import select

from mes_bridge.intake import StatusEvent
from mes_bridge.job_order_ids import job_order_id
from orders.adapters.outbox import flush_enqueues
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planning import approve, request_plan
from orders.commands.release import release
from orders.context import AppContext
from orders.models import Assignment, Machine, Operation, OperationStatus, Schedule
from orders.plate_gate import bed_clear_needed, last_print, ran_on
from orders.queries.fleet import fleet

P = Actor("planner")


def _event(op: int, version: int, kind: str, at: datetime) -> StatusEvent:
    return StatusEvent(
        job_order_id=job_order_id(op, version),
        kind=kind,
        at=at,
        event_id=str(uuid.uuid4()),
        source="button",
    )


def _place(s: Any) -> None:
    make_shop(s)
    user = make_user(s)
    cfg = make_configuration(s)
    lines = [LineRequest(cfg.id, 2), LineRequest(cfg.id, 2)]
    place_order(s, user.id, lines, uuid.uuid4().hex, Actor("c", user.id), "PKR")


def _propose(ctx: AppContext, moves: dict[int, str], plate: str | None = None) -> tuple[int, int]:
    """A solved proposal (id, its newest print job), every job single except the moved ones,
    which go to the printers named and, with `plate`, share that plate."""
    sid = request_plan(ctx, "due_dates", 5, 14, P)
    with ctx.db.transaction() as s:
        plan = s.get_one(Schedule, sid)
        prints = sorted(
            a.operation_id
            for a in plan.assignments
            if s.get_one(Operation, a.operation_id).process == "fdm"
        )
        for a in plan.assignments:
            a.plate_key = plate if a.operation_id in moves else None
            a.machine_id = moves.get(a.operation_id, a.machine_id)
        return sid, prints[-1]


def _printers(ctx: AppContext, op_id: int) -> list[str]:
    with ctx.db.sessions() as s:
        eligible = s.get_one(Operation, op_id).eligible
        fdm = s.scalars(select(Machine.id).where(Machine.process == "fdm").order_by(Machine.id))
        return [m for m in fdm if m in eligible]


def _release(ctx: AppContext, sid: int) -> int:
    with ctx.db.transaction() as s:
        approve(s, sid, P)
        return release(s, sid, P).version


def _print(ctx: AppContext, job: int, version: int, started: datetime) -> None:
    with ctx.db.transaction() as s:
        assert apply_event(s, _event(job, version, "started", started)).ok
        assert apply_event(s, _event(job, version, "completed", datetime.now(UTC))).ok


def _moved_job(ctx: AppContext, plate_with: bool = False) -> tuple[int, int, list[str], int]:
    """Plan A puts job X on printer 1 and is released; proposal C (never released) puts X on
    printer 3; plan B puts X on printer 2 (with `plate_with`: on one plate with the oldest
    print job, which names the plate) and is released, superseding A and C.
    Returns (X, version of B, [printer 1, 2, 3], the job order's operation in B)."""
    with ctx.db.transaction() as s:
        _place(s)
    flush_enqueues(ctx)
    sid_a, x = _propose(ctx, {})
    printers = _printers(ctx, x)
    assert len(printers) >= 3, printers
    p1, p2, p3 = printers[:3]
    with ctx.db.transaction() as s:
        for a in s.scalars(select(Assignment).where(Assignment.schedule_id == sid_a)):
            a.machine_id = p1 if a.operation_id == x else a.machine_id
        lead = min(
            a.operation_id
            for a in s.scalars(select(Assignment).where(Assignment.schedule_id == sid_a))
            if s.get_one(Operation, a.operation_id).process == "fdm"
        )
    assert lead != x
    _release(ctx, sid_a)
    sid_c, _ = _propose(ctx, {x: p3})
    moves = {x: p2, lead: p2} if plate_with else {x: p2}
    sid_b, _ = _propose(ctx, moves, "plate-b" if plate_with else None)
    version_b = _release(ctx, sid_b)
    with ctx.db.sessions() as s:
        c = s.get_one(Schedule, sid_c)
        assert c.state == "superseded" and c.released_at is None, "C never ran"
        assert s.get_one(Schedule, sid_a).state == "superseded"
    return x, version_b, [p1, p2, p3], lead if plate_with else x


def test_a_job_moved_by_a_later_plan_dirties_only_the_printer_it_ran_on(ctx: AppContext) -> None:
    """The start event names plan B's job order, so it ran where B put it, even when the
    printer's clock dates the start before B's release (its clock runs behind the server's)."""
    x, version_b, (p1, p2, p3), _ = _moved_job(ctx)
    _print(ctx, x, version_b, started=_released_at(ctx, version_b) - timedelta(minutes=5))
    with ctx.db.sessions() as s:
        ended = s.get_one(Operation, x).ended_at
        assert bed_clear_needed(s, p2) and last_print(s, p2) == ended
        assert not bed_clear_needed(s, p1), "printer 1 printed nothing: plan A was superseded"
        assert not bed_clear_needed(s, p3), "proposal C was never released"
        assert last_print(s, p1) is None and last_print(s, p3) is None
        board = {row.machine_id: row.bed_clear_needed for row in fleet(s)}
        assert board[p2] and not board[p1] and not board[p3], "the fleet board reads the same"


def test_a_plate_started_by_its_first_member_counts_for_every_member(ctx: AppContext) -> None:
    """A plate's start event names only its first member's job order: X, moved onto plan B's
    plate, printed on that plate's printer."""
    x, version_b, (p1, p2, _), lead = _moved_job(ctx, plate_with=True)
    _print(ctx, lead, version_b, started=_released_at(ctx, version_b) - timedelta(minutes=5))
    with ctx.db.sessions() as s:
        assert s.get_one(Operation, x).status == OperationStatus.DONE
        assert ran_on(s, [x]) == {x: {p2}}
        assert bed_clear_needed(s, p2)
        assert not bed_clear_needed(s, p1)


def _released_at(ctx: AppContext, version: int) -> datetime:
    with ctx.db.sessions() as s:
        at = s.scalars(select(Schedule.released_at).where(Schedule.version == version)).one()
    assert at is not None
    return at


def test_without_floor_events_the_plan_in_force_at_the_start_decides(ctx: AppContext) -> None:
    """Work recorded without its events (an import, a hand correction): the start time picks
    the plan that was released then."""
    x, version_b, (p1, p2, _), _ = _moved_job(ctx)
    with ctx.db.transaction() as s:
        b = s.scalars(select(Schedule).where(Schedule.version == version_b)).one()
        op = s.get_one(Operation, x)
        assert b.released_at is not None
        op.status = OperationStatus.DONE
        op.started_at = b.released_at + timedelta(minutes=1)
        op.ended_at = op.started_at + timedelta(minutes=30)
    with ctx.db.sessions() as s:
        assert bed_clear_needed(s, p2)
        assert not bed_clear_needed(s, p1)
    with ctx.db.transaction() as s:  # started between the two releases: it ran where A put it
        a, b = s.scalars(
            select(Schedule.released_at)
            .where(Schedule.released_at.is_not(None))
            .order_by(Schedule.version)
        ).all()
        assert a is not None and b is not None
        op = s.get_one(Operation, x)
        op.started_at = a + (b - a) / 2
        op.ended_at = op.started_at + timedelta(minutes=30)
    with ctx.db.sessions() as s:
        assert bed_clear_needed(s, p1)
        assert not bed_clear_needed(s, p2)
