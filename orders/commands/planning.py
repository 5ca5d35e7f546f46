"""Plans as versions: propose (solve on the plan queue), approve (one winner), release.

Objectives offered to planners map onto the scheduler's terms:
due dates → weighted tardiness then makespan; makespan; changeovers → setup time then tardiness.
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orders.commands.audit import Actor, record_event, transition
from orders.errors import DomainError, StaleVersion
from orders.lifecycle import Status
from orders.lookup import found
from orders.models import Assignment, OrderLine, Schedule, ScheduleState, User
from orders.queries.pins import pin_diagnostics, pin_trouble
from orders.queries.planning_problem import PlanningProblem, at_minute, build_problem
from scheduler.dispatch import dispatch
from scheduler.schedule import Schedule as SchedulerPlan
from scheduler.schedule import SolveResult
from scheduler.solve import solve
from scheduler.validate import compute_kpis

if TYPE_CHECKING:
    from orders.context import AppContext
from orders.adapters.outbox import enqueue_later, flush_enqueues
from orders.lifecycle import HOLDABLE
from orders.queries.plans import OBJECTIVES, current_release, released_plan


def _check_request(objective: str, time_limit_s: float, horizon_days: int) -> None:
    if objective not in OBJECTIVES:
        raise DomainError(
            f"unknown objective '{objective}'",
            fields={"objective": f"one of {', '.join(OBJECTIVES)}"},
        )
    if not 1 <= time_limit_s <= 600 or not 1 <= horizon_days <= 90:
        raise DomainError(
            "time limit must be 1–600 s and horizon 1–90 days",
            fields={"time_limit_s": "1..600", "horizon_days": "1..90"},
        )


VERSION_ATTEMPTS = 5
RECENT_REQUESTS = 20  # a planner's own proposals searched for a repeated form


def _same_request(session: Session, actor: Actor, request_key: str) -> Schedule | None:
    """The proposal this planner's form (its key) already made, with the planner's row locked
    so two submits of one form are decided one after the other."""
    if actor.user_id is None:
        return None
    session.get(User, actor.user_id, with_for_update=True, populate_existing=True)
    recent = session.scalars(
        select(Schedule)
        .where(Schedule.created_by_id == actor.user_id)
        .order_by(Schedule.id.desc())
        .limit(RECENT_REQUESTS)
    )
    return next((r for r in recent if (r.params or {}).get("request_key") == request_key), None)


def _insert_next_version(session: Session, row: Schedule) -> None:
    """The next version number; two proposals racing for it meet at the unique key and the
    loser takes the one after (a savepoint keeps its transaction), as invoice numbers do."""
    for _ in range(VERSION_ATTEMPTS):
        row.version = (session.scalar(select(func.max(Schedule.version))) or 0) + 1
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
            return
        except IntegrityError:
            continue
    raise DomainError("the plan version is busy; try again", fields={"objective": "busy"})


def create_proposal(
    session: Session,
    objective: str,
    time_limit_s: float,
    horizon_days: int,
    actor: Actor,
    note: str | None = None,
    request_key: str | None = None,
) -> Schedule:
    """A pending proposal whose solve is requested through the outbox (same transaction).

    With `request_key` (the propose form's), the same form submitted again returns the
    proposal it made the first time instead of solving again ("already done")."""

    _check_request(objective, time_limit_s, horizon_days)
    key = (request_key or "").strip()[:64]
    if key and (same := _same_request(session, actor, key)) is not None:
        return same
    base = current_release(session)
    params: dict[str, Any] = {"time_limit_s": time_limit_s, "horizon_days": horizon_days}
    if key:
        params["request_key"] = key
    row = Schedule(
        base_version=base.version if base else None,
        objective=objective,
        solver_status="PENDING",
        created_by_id=actor.user_id,
        note=note,
        params=params,
    )
    _insert_next_version(session, row)
    record_event(
        session,
        actor,
        "schedule",
        row.id,
        None,
        ScheduleState.PROPOSED.value,
        {"note": note} if note else None,
    )
    enqueue_later(
        session,
        "plan_schedule",
        row.id,
        queue="plan",
        dedupe_key=f"plan:{row.id}",
        key=f"plan:{row.id}",
    )
    return row


def request_plan(
    ctx: AppContext,
    objective: str,
    time_limit_s: float,
    horizon_days: int,
    actor: Actor,
    request_key: str | None = None,
) -> int:
    """Create a proposal and hand its solve to the `plan` queue; returns the schedule id."""

    with ctx.db.transaction() as s:
        row = create_proposal(s, objective, time_limit_s, horizon_days, actor, None, request_key)
        schedule_id = row.id
    flush_enqueues(ctx)
    return schedule_id


def _kpis(k: Any) -> dict[str, Any]:
    return asdict(k)


def _solve(pp: Any, objective: str, limit: float, workers: int, previous: Any) -> SolveResult:
    """One solve of the proposal's problem, kept close to the released plan if there is one."""
    return solve(
        pp.problem,
        OBJECTIVES[objective],
        limit,
        workers,
        previous=previous,
        stability_weight=1 if previous else 0,
    )


def solve_proposal(
    session: Session, schedule_id: int, now: datetime | None = None, workers: int = 2
) -> dict[str, Any]:
    """Build the problem from the rows, solve it, and store assignments, KPIs and baseline."""
    row = found(session, Schedule, schedule_id, "schedule")
    at = now or datetime.now(UTC)
    days, batch = int(row.params.get("horizon_days", 21)), bool(row.params.get("batch", True))
    pp = build_problem(session, at, days, batch=batch)
    previous = released_plan(session, pp)
    limit = float(row.params.get("time_limit_s", 10))
    result = _solve(pp, row.objective, limit, workers, previous)
    pin_notes: tuple[Any, ...] = ()
    if pin_trouble(result, pp):  # keep the pinned machines, free their starts, name what moved
        strict, pp = pp, build_problem(session, at, days, batch=batch, relax_pins=True)
        previous = released_plan(session, pp)
        result = _solve(pp, row.objective, limit, workers, previous)
        pin_notes = pin_diagnostics(session, strict, result)
    excluded = _unplannable(result, pp)
    if excluded:  # plan everything else; the lines that cannot be planned go on hold with why
        pp = replace(
            pp,
            problem=replace(
                pp.problem, jobs=tuple(j for j in pp.problem.jobs if j.id not in excluded)
            ),
        )
        result = _solve(pp, row.objective, limit, workers, previous)
        _hold_unplannable(session, pp, excluded)
    # the comparison baseline is bounded like the solve (a tenth of its limit, then lazy)
    baseline = dispatch(pp.problem, deadline=time.perf_counter() + limit / 10)
    row.solver_status = result.status.value
    row.kpis = {
        "proposal": _kpis(result.kpis),
        "baseline": _kpis(compute_kpis(pp.problem, baseline)),
        "released": _kpis(compute_kpis(pp.problem, previous)) if previous else None,
        "lower_bound": result.lower_bound,
        "gap": result.gap,
        "solve_seconds": result.solve_seconds,
        "status_text": result.status.ui_text,
        "diagnostics": [asdict(d) for d in pin_notes + result.diagnostics],
        "origin": pp.origin.isoformat(),
        "plates": _plates_summary(pp),
        "excluded": {k: v for k, v in excluded.items()},
    }
    if result.schedule is not None:
        _store_assignments(session, row, pp, result.schedule)
    return {"status": result.status.value, "assignments": len(row.assignments)}


def _unplannable(result: Any, pp: PlanningProblem) -> dict[str, str]:
    """Order-line jobs that make the model invalid (e.g. no machine, no room), with the reason."""
    if result.status.value != "MODEL_INVALID":
        return {}
    bad: dict[str, str] = {}
    for d in result.diagnostics:
        if d.severity == "error":
            for j in d.job_ids:
                bad.setdefault(j, d.message)
    if not bad or any(j not in pp.line_of_job for j in bad) or len(bad) >= len(pp.problem.jobs):
        return {}
    return bad


def _hold_unplannable(session: Session, pp: PlanningProblem, excluded: dict[str, str]) -> None:

    for job_id, why in excluded.items():
        line = session.get_one(OrderLine, pp.line_of_job[job_id])
        if line.status in HOLDABLE:
            transition(
                session,
                line,
                Status.ON_HOLD,
                Actor("planner (solver)"),
                reason=f"cannot be planned: {why}",
            )


def _plates_summary(pp: PlanningProblem) -> dict[str, Any]:
    p = pp.plates
    if p is None:
        return {"count": 0, "setups_saved": 0, "minutes_saved": 0, "layouts": {}}
    return {
        "count": len(p.jobs),
        "setups_saved": p.setups_saved,
        "minutes_saved": p.minutes_saved,
        "layouts": p.layouts,
    }


def _store_assignments(
    session: Session, row: Schedule, pp: PlanningProblem, plan: SchedulerPlan
) -> None:
    """One row per operation; a plate's assignment is recorded on each of its member operations."""
    frozen = {o.id for o in pp.problem.operations if o.frozen is not None}
    members = pp.plates.members if pp.plates else {}
    for a in plan.assignments:
        ids = members.get(a.op_id) or [pp.op_rows[a.op_id]]
        for op_id in ids:
            row.assignments.append(
                Assignment(
                    operation_id=op_id,
                    machine_id=a.machine_id,
                    start=at_minute(pp.origin, a.start),
                    end=at_minute(pp.origin, a.end),
                    setup_minutes=a.setup_before,
                    frozen=a.op_id in frozen,
                    plate_key=a.op_id if a.op_id in members else None,
                )
            )
    session.flush()


def approve(session: Session, schedule_id: int, actor: Actor) -> Schedule:
    """Approve a proposal if it was planned on the plan that is still released.

    The unique `approval_slot` (= base version) makes concurrent approvals race safely:
    exactly one proposal per base version is approved; the others get `StaleVersion`.
    """
    row = found(session, Schedule, schedule_id, "schedule")
    if row.state == ScheduleState.APPROVED:
        return row  # a repeated approval: already done
    if row.state != ScheduleState.PROPOSED or not row.assignments:
        raise DomainError(
            f"schedule v{row.version} is {row.state.value} "
            f"({row.solver_status}); only a solved proposal can be approved"
        )
    base = current_release(session)
    base_version = base.version if base else None
    if row.base_version != base_version:
        raise StaleVersion(
            f"proposal v{row.version} was planned on v{row.base_version}, but "
            f"v{base_version} has been released since; propose again"
        )
    slot = row.base_version or 0
    try:
        with session.begin_nested():
            done = session.execute(
                update(Schedule)
                .where(Schedule.id == row.id, Schedule.state == ScheduleState.PROPOSED)
                .values(
                    state=ScheduleState.APPROVED, approval_slot=slot, approved_at=datetime.now(UTC)
                )
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                session.refresh(row)
                if row.state == ScheduleState.APPROVED:
                    return row  # a concurrent submit of the same approval won: already done
                raise StaleVersion(f"schedule v{row.version} changed state meanwhile")
    except IntegrityError as exc:
        winner = session.scalar(select(Schedule.version).where(Schedule.approval_slot == slot))
        raise StaleVersion(
            f"another proposal (v{winner}) on base v{row.base_version} "
            "was approved first; propose again on the new plan"
        ) from exc
    session.refresh(row)
    record_event(
        session,
        actor,
        "schedule",
        row.id,
        ScheduleState.PROPOSED.value,
        ScheduleState.APPROVED.value,
    )
    return row
