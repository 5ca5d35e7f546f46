"""The plans on record: the released plan, its assignments as a scheduler plan, and what a proposal moves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.lookup import found
from orders.models import Schedule, ScheduleState
from orders.queries.planning_problem import PlanningProblem, op_key
from scheduler.schedule import Assignment as SA
from scheduler.schedule import Schedule as SchedulerPlan

if TYPE_CHECKING:
    pass


OBJECTIVES = {
    "due_dates": "lex:weighted_tardiness,makespan",
    "makespan": "makespan",
    "changeovers": "lex:setup_time,weighted_tardiness",
}


def current_release(session: Session) -> Schedule | None:
    return session.scalars(
        select(Schedule)
        .where(Schedule.state == ScheduleState.RELEASED)
        .order_by(Schedule.version.desc())
        .limit(1)
    ).first()


def released_plan(session: Session, pp: PlanningProblem) -> SchedulerPlan | None:

    base = current_release(session)
    if base is None:
        return None
    ops = pp.problem.op_index()
    out = []
    for a in base.assignments:
        key = op_key(a.operation_id)
        if key in ops and a.machine_id in ops[key].eligible:
            start = int((a.start - pp.origin).total_seconds() // 60)
            end = int((a.end - pp.origin).total_seconds() // 60)
            out.append(SA(key, ops[key].job_id, a.machine_id, start, end, a.setup_minutes))
    return SchedulerPlan(tuple(out))


def moves(session: Session, schedule_id: int) -> list[dict[str, Any]]:
    """What the proposal moves relative to the released plan (machine or start changed)."""
    row = found(session, Schedule, schedule_id, "schedule")
    base = current_release(session)
    if base is None:
        return []
    old = {a.operation_id: a for a in base.assignments}
    out = []
    for a in row.assignments:
        b = old.get(a.operation_id)
        if b is not None and (b.machine_id, b.start) != (a.machine_id, a.start):
            out.append(
                {
                    "operation_id": a.operation_id,
                    "from_machine": b.machine_id,
                    "to_machine": a.machine_id,
                    "from_start": b.start.isoformat(),
                    "to_start": a.start.isoformat(),
                }
            )
    return out
