"""Rescheduling from "now" after a breakdown, a rush order, a late or a scrapped operation.

Started operations stay frozen where they ran; a stability term penalises moving the rest of
the previous plan (minutes moved plus a penalty per machine change). The result says what moved
and how the KPIs changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace

from .calendars import overlaps
from .cpsat.objective import ObjectiveSpec
from .problem import FrozenAssignment, Job, Machine, Operation, Problem, Window
from .schedule import Schedule, SolveResult
from .validate import compute_kpis


@dataclass(frozen=True)
class Move:
    op_id: str
    job_id: str
    old_machine: str
    new_machine: str
    old_start: int
    new_start: int

    def __str__(self) -> str:
        return (
            f"{self.op_id}: {self.old_machine}@{self.old_start} -> "
            f"{self.new_machine}@{self.new_start}"
        )


@dataclass(frozen=True)
class RescheduleResult:
    result: SolveResult
    problem: Problem  # the problem actually solved (with frozen work and "now")
    moves: tuple[Move, ...]
    kpi_delta: dict[str, float]


def with_breakdown(
    problem: Problem, machine_id: str, start: int, end: int, reason: str = "breakdown"
) -> Problem:
    """Add a downtime window; operations frozen across it are interrupted and must restart."""
    machines = tuple(
        Machine(m.id, m.calendar + (Window(start, end, reason),), m.initial_family, m.name)
        if m.id == machine_id
        else m
        for m in problem.machines
    )
    jobs = tuple(
        replace(
            j, operations=tuple(_unfreeze_if_hit(o, machine_id, start, end) for o in j.operations)
        )
        for j in problem.jobs
    )
    return replace(problem, jobs=jobs, machines=machines)


def with_job(problem: Problem, job: Job) -> Problem:
    """Add a rush order (give it a high weight/priority and an early due date)."""
    return replace(problem, jobs=problem.jobs + (job,))


def _unfreeze_if_hit(op: Operation, machine_id: str, start: int, end: int) -> Operation:
    f = op.frozen
    if f is None or f.machine_id != machine_id:
        return op
    if f.start < end and start < f.start + op.eligible[machine_id]:
        return replace(op, frozen=None)
    return op


def freeze_started(
    problem: Problem,
    previous: Schedule,
    now: int,
    scrapped: Collection[str] = (),
    late: Mapping[str, int] | None = None,
    started: Collection[str] | None = None,
) -> Problem:
    """Freeze the previously planned ops that really started before ``now``.

    ``started`` lists them when the shop floor reported it; otherwise an op counts as started
    when its planned start is before ``now`` and nothing it waits for (its machine predecessor
    or its route predecessors, including a ``late`` one, mapped op id -> actual end) was still
    running then. Scrapped ops and ops hit by a downtime window are not frozen: they restart.
    """
    late = dict(late or {})
    machines = problem.machine_index()
    ops = problem.op_index()
    preds = problem.predecessors()
    actual_end: dict[str, int] = {}
    machine_free: dict[str, int] = {}
    frozen: dict[str, tuple[str, int, int]] = {}
    for a in sorted(previous.assignments, key=lambda a: (a.start, a.op_id)):
        op = ops.get(a.op_id)
        if op is None or a.op_id in scrapped or a.machine_id not in op.eligible:
            continue
        end = late.get(a.op_id, a.start + op.eligible[a.machine_id])
        if started is not None:
            ok = a.op_id in started
        else:
            waits = [actual_end.get(p) for p in preds[a.op_id]]
            ok = (
                a.start < now
                and a.start >= machine_free.get(a.machine_id, 0)
                and all(w is not None and w <= a.start for w in waits)
            )
        if ok and not overlaps(machines[a.machine_id].calendar, a.start, end):
            frozen[a.op_id] = (a.machine_id, a.start, end)
            actual_end[a.op_id] = end
            machine_free[a.machine_id] = end
    jobs = []
    for j in problem.jobs:
        new_ops = []
        for o in j.operations:
            if o.id in frozen:
                mid, s0, e0 = frozen[o.id]
                o = replace(
                    o,
                    eligible={**o.eligible, mid: e0 - s0},
                    frozen=FrozenAssignment(mid, s0, running=True),
                )
            elif o.frozen is not None and o.id in scrapped:
                o = replace(o, frozen=None)
            new_ops.append(o)
        jobs.append(replace(j, operations=tuple(new_ops)))
    return replace(problem, jobs=tuple(jobs), now=now)


def reschedule(
    problem: Problem,
    previous: Schedule,
    now: int,
    *,
    scrapped: Collection[str] = (),
    late: Mapping[str, int] | None = None,
    started: Collection[str] | None = None,
    objective: str | ObjectiveSpec = "weighted_tardiness",
    stability_weight: int = 1,
    move_penalty: int = 60,
    time_limit_s: float = 10.0,
    workers: int = 2,
) -> RescheduleResult:
    """Re-solve from ``now``. ``problem`` already carries the event (``with_breakdown``,
    ``with_job``); scrapped, late and started operations refer to the plan, so they come here
    (see ``freeze_started``)."""
    from .solve import solve  # local: solve imports the model, keep this module light

    frozen = freeze_started(problem, previous, now, scrapped, late, started)
    res = solve(
        frozen,
        objective,
        time_limit_s,
        workers,
        previous=previous,
        stability_weight=stability_weight,
        move_penalty=move_penalty,
    )
    moves: list[Move] = []
    if res.schedule is not None:
        new = res.schedule.by_op()
        for a in previous.assignments:
            b = new.get(a.op_id)
            if b is not None and (a.machine_id, a.start) != (b.machine_id, b.start):
                moves.append(Move(a.op_id, a.job_id, a.machine_id, b.machine_id, a.start, b.start))
    before = compute_kpis(problem, _only_known(problem, previous))
    delta = before.delta(res.kpis) if res.schedule is not None else {}
    return RescheduleResult(res, frozen, tuple(moves), delta)


def _only_known(problem: Problem, schedule: Schedule) -> Schedule:
    ops = problem.op_index()
    return Schedule(tuple(a for a in schedule.assignments if a.op_id in ops))
