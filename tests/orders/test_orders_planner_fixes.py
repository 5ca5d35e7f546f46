"""Planner fixes (issue 14): pins keep work where it is, old proposals are superseded by a
release, a scrap asks for a re-plan, and reports count only what happened."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from factories import make_configuration, make_shop, make_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mes_bridge.intake import StatusEvent
from mes_bridge.job_order_ids import job_order_id
from orders.adapters.outbox import flush_enqueues
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planner_ops import pin_operation
from orders.commands.planning import approve, create_proposal, request_plan, solve_proposal
from orders.commands.release import release
from orders.context import AppContext
from orders.models import Assignment, Machine, Operation, Schedule, ScheduleState
from orders.queries.reports import reports

P = Actor("planner")


def _released(ctx: AppContext, lines: int = 1) -> int:
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        for i in range(lines):
            place_order(s, user.id, [LineRequest(cfg.id, 4)], f"k{i}", Actor("c", user.id), "PKR")
    flush_enqueues(ctx)
    sid = request_plan(ctx, "due_dates", 5, 14, P)
    with ctx.db.transaction() as s:
        approve(s, sid, P)
        return release(s, sid, P).id


def _step(s: Session, schedule_id: int, process: str) -> Assignment:
    """The (first) assignment of a step; FDM parts of one line may share a plate."""
    found = s.scalars(
        select(Assignment)
        .join(Operation, Operation.id == Assignment.operation_id)
        .where(Assignment.schedule_id == schedule_id, Operation.process == process)
        .order_by(Assignment.operation_id)
    ).first()
    assert found is not None
    return found


def _pin_and_solve(ctx: AppContext, sid: int, process: str, later: timedelta) -> Schedule:
    """Pin one step where the released plan put it (empty start), then plan `later`."""
    with ctx.db.transaction() as s:
        a = _step(s, sid, process)
        pin_operation(s, a.operation_id, a.machine_id, None, P)
        new = create_proposal(s, "due_dates", 5, 14, P).id
    with ctx.db.transaction() as s:
        solve_proposal(s, new, now=datetime.now(UTC) + later)
    with ctx.db.sessions() as s:
        row = s.get_one(Schedule, new)
        s.expunge_all()
        return row


def test_pin_with_empty_start_keeps_the_released_slot(ctx: AppContext) -> None:
    sid = _released(ctx)
    row = _pin_and_solve(ctx, sid, "post", timedelta(0))
    assert row.solver_status in ("OPTIMAL", "FEASIBLE"), row.kpis["diagnostics"]
    with ctx.db.sessions() as s:
        was, now = _step(s, sid, "post"), _step(s, row.id, "post")
        assert (now.machine_id, now.start) == (was.machine_id, was.start)
        assert now.frozen


def test_pin_whose_start_has_passed_stays_on_its_machine_from_now(ctx: AppContext) -> None:
    sid = _released(ctx)
    later = timedelta(hours=12)  # past the released QC slot, which never started
    row = _pin_and_solve(ctx, sid, "qc", later)
    assert row.solver_status in ("OPTIMAL", "FEASIBLE"), row.kpis["diagnostics"]
    with ctx.db.sessions() as s:
        was, now = _step(s, sid, "qc"), _step(s, row.id, "qc")
        assert now.machine_id == was.machine_id
        assert now.start >= datetime.now(UTC) + later - timedelta(minutes=2)


def test_pin_that_cannot_be_kept_is_named_not_silently_infeasible(ctx: AppContext) -> None:
    sid = _released(ctx)
    # a minute before the pinned post step, the print before it has not started: it cannot
    # end in time (relative to the released slot, so the shift calendar and the time of day
    # the suite runs at do not matter; a fixed "two hours on" passed or failed by the clock)
    with ctx.db.sessions() as s:
        slot = _step(s, sid, "post").start
    slot = slot if slot.tzinfo else slot.replace(tzinfo=UTC)
    later = max(timedelta(0), slot - datetime.now(UTC) - timedelta(minutes=1))
    row = _pin_and_solve(ctx, sid, "post", later)
    with ctx.db.sessions() as s:
        post = _step(s, sid, "post")
        found = [d for d in row.kpis["diagnostics"] if d["code"] == "pin_not_honoured"]
        assert found and f"operation {post.operation_id} " in found[0]["message"]
        assert row.solver_status in ("OPTIMAL", "FEASIBLE"), row.kpis["diagnostics"]
        assert _step(s, row.id, "post").machine_id == post.machine_id


def test_release_supersedes_older_proposals(ctx: AppContext) -> None:
    sid = _released(ctx)
    older = request_plan(ctx, "makespan", 3, 14, P)
    pending = request_plan(ctx, "due_dates", 3, 14, P)
    with ctx.db.transaction() as s:
        approve(s, older, P)
        release(s, older, P)
        newest = create_proposal(s, "due_dates", 3, 14, P).id
    with ctx.db.sessions() as s:
        assert s.get_one(Schedule, sid).state == ScheduleState.SUPERSEDED
        stale = s.get_one(Schedule, pending)
        assert stale.state == ScheduleState.SUPERSEDED and stale.released_at is None
        assert s.get_one(Schedule, newest).state == ScheduleState.PROPOSED


def test_a_scrap_asks_for_a_new_plan_once(ctx: AppContext) -> None:
    sid = _released(ctx)
    with ctx.db.transaction() as s:
        version = s.get_one(Schedule, sid).version
        op = _step(s, sid, "post").operation_id
        before = s.scalar(select(func.count()).select_from(Schedule))
        for kind in ("started", "completed"):
            assert apply_event(s, _ev(op, version, kind)).ok
        scrap = _ev(op, version, "scrapped", qty=1, reason="cracked")
        res = apply_event(s, scrap)
        assert res.ok and res.proposal_requested and res.new_line_id
        assert apply_event(s, scrap).code == "duplicate"
        assert s.scalar(select(func.count()).select_from(Schedule)) == before + 1
        newest = s.scalars(select(Schedule).order_by(Schedule.version.desc())).first()
        assert newest is not None and newest.state == ScheduleState.PROPOSED
        assert f"line {res.new_line_id}" in (newest.note or "")


def test_reports_leave_out_days_without_shipments_and_count_printed_parts(
    ctx: AppContext,
) -> None:
    sid = _released(ctx)
    with ctx.db.transaction() as s:
        version = s.get_one(Schedule, sid).version
        printed = _step(s, sid, "fdm")
        # start and complete pressed together, as on the floor: the plate ran its planned time
        for kind in ("started", "completed"):
            assert apply_event(s, _ev(printed.operation_id, version, kind)).ok
    now = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
    with ctx.db.sessions() as s:
        series = {x.key: x for x in reports(s, now)}
        cal = s.get_one(Machine, printed.machine_id).calendar
        assert cal is not None and cal.shifts
        zone, shifts = ZoneInfo(cal.timezone), list(cal.shifts)
    assert series["on_time"].points == (), "nothing shipped: no 0 % days"
    used = dict(series["utilisation"].points)
    assert used[printed.machine_id] > 0
    run = (printed.end - printed.start).total_seconds() / 60
    open_minutes = _open_minutes(now - timedelta(days=14), now, zone, shifts)
    expected = 100 * run / open_minutes
    assert used[printed.machine_id] == float(f"{expected:.3g}"), "a plate counts once"


def _open_minutes(since: datetime, until: datetime, zone: ZoneInfo, shifts: list[Any]) -> int:
    """Shift minutes counted minute by minute (an oracle independent of the calendar code)."""

    def in_shift(t: datetime) -> bool:
        for sh in shifts:
            start, end = time.fromisoformat(sh["start"]), time.fromisoformat(sh["end"])
            day = t.weekday()
            if end > start and day == sh["weekday"] and start <= t.time() < end:
                return True
            if end <= start and (
                (day == sh["weekday"] and t.time() >= start)
                or (day == (sh["weekday"] + 1) % 7 and t.time() < end)
            ):
                return True
        return False

    minutes, t = 0, since
    while t < until:
        minutes += in_shift(t.astimezone(zone))
        t += timedelta(minutes=1)
    return minutes


def _ev(op: int, version: int, kind: str, **kw: object) -> StatusEvent:
    return StatusEvent(
        job_order_id=job_order_id(op, version),
        kind=kind,
        at=datetime.now(UTC),
        event_id=str(uuid.uuid4()),
        source="button",
        **kw,
    )  # type: ignore[arg-type]
