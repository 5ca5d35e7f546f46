"""Solver-free schedule checking: every rule the model enforces, re-checked from scratch.

Tests and benches call ``validate`` on every schedule a solver or heuristic returns, so a bug in
the CP-SAT model shows up as a listed violation rather than a silently wrong plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from .power import power_violations
from .problem import Operation, Problem
from .schedule import Assignment, Kpis, Schedule


@dataclass(frozen=True)
class Violation:
    rule: str
    message: str
    op_ids: tuple[str, ...] = ()


def validate(problem: Problem, schedule: Schedule) -> list[Violation]:
    """List every violated rule: coverage, eligibility, durations, release, precedence,
    frozen operations, calendars, no-overlap, setups and backup power."""
    out: list[Violation] = []
    ops = problem.op_index()
    by_op: dict[str, Assignment] = {}
    for a in schedule.assignments:
        if a.op_id in by_op:
            out.append(Violation("coverage", f"{a.op_id} assigned twice", (a.op_id,)))
        by_op[a.op_id] = a
        if a.op_id not in ops:
            out.append(Violation("coverage", f"{a.op_id} is not in the problem", (a.op_id,)))
    for oid in ops:
        if oid not in by_op:
            out.append(Violation("coverage", f"{oid} is not scheduled", (oid,)))
    present = {k: v for k, v in by_op.items() if k in ops}
    out += _check_ops(problem, present)
    out += _check_precedence(problem, present)
    out += _check_machines(problem, schedule, present)
    out += [Violation("power", msg) for msg in power_violations(problem, present.values())]
    return out


def _check_ops(problem: Problem, by_op: dict[str, Assignment]) -> list[Violation]:
    out: list[Violation] = []
    jobs = problem.job_index()
    ops = problem.op_index()
    windows = {m.id: m.calendar for m in problem.machines}
    for oid, a in by_op.items():
        op = ops[oid]
        if a.job_id != op.job_id:
            out.append(Violation("identity", f"{oid} reported under job {a.job_id}", (oid,)))
        if a.machine_id not in op.eligible:
            out.append(Violation("eligibility", f"{oid} on ineligible {a.machine_id}", (oid,)))
        elif a.end - a.start != op.eligible[a.machine_id]:
            out.append(
                Violation(
                    "duration",
                    f"{oid} lasts {a.end - a.start}, needs {op.eligible[a.machine_id]}"
                    f" on {a.machine_id}",
                    (oid,),
                )
            )
        job = jobs[op.job_id]
        if a.start < job.release and op.frozen is None:  # work in progress began already
            out.append(Violation("release", f"{oid} starts before job release", (oid,)))
        if job.deadline is not None and a.end > job.deadline:
            out.append(Violation("deadline", f"{oid} ends after job deadline", (oid,)))
        if op.frozen is not None:
            if (a.machine_id, a.start) != (op.frozen.machine_id, op.frozen.start):
                out.append(Violation("frozen", f"{oid} moved from its frozen slot", (oid,)))
        elif a.start < problem.now:
            out.append(Violation("now", f"{oid} starts at {a.start} before now", (oid,)))
        for w in windows.get(a.machine_id, ()):
            if a.start < w.end and w.start < a.end:
                out.append(
                    Violation(
                        "calendar",
                        f"{oid} [{a.start},{a.end}) overlaps {w.reason} [{w.start},{w.end})"
                        f" on {a.machine_id}",
                        (oid,),
                    )
                )
    return out


def _check_precedence(problem: Problem, by_op: dict[str, Assignment]) -> list[Violation]:
    out: list[Violation] = []
    ops = problem.op_index()
    for oid, preds in problem.predecessors().items():
        a = by_op.get(oid)
        if oid in ops and _running(ops[oid]):
            continue  # started on the floor: its predecessors' order is a fact, not a plan
        for p in preds:
            b = by_op.get(p)
            if a is not None and b is not None and a.start < b.end:
                out.append(
                    Violation(
                        "precedence", f"{oid} starts {a.start} before {p} ends {b.end}", (p, oid)
                    )
                )
    return out


def _check_machines(
    problem: Problem, schedule: Schedule, by_op: dict[str, Assignment]
) -> list[Violation]:
    out: list[Violation] = []
    ops = problem.op_index()
    machines = problem.machine_index()
    for mid, lane in schedule.by_machine().items():
        lane = [a for a in lane if a.op_id in by_op and by_op[a.op_id] is a]
        machine = machines.get(mid)
        if machine is None:
            out.append(Violation("machine", f"unknown machine {mid}", tuple(a.op_id for a in lane)))
            continue
        prev_family = machine.initial_family
        prev_end = 0
        prev_id: str | None = None
        for a in lane:
            fam = ops[a.op_id].setup_family
            need = setup_ahead(problem, mid, prev_family, ops[a.op_id], prev_id is None)
            if prev_id is None:
                prev_end = min(prev_end, a.start)  # work running since before now
            if prev_id is not None and a.start < prev_end:
                out.append(
                    Violation(
                        "overlap", f"{prev_id} and {a.op_id} overlap on {mid}", (prev_id, a.op_id)
                    )
                )
            elif a.start < prev_end + need:
                out.append(
                    Violation(
                        "setup",
                        f"{a.op_id} needs {need} min setup after {prev_id or 'initial state'}"
                        f" on {mid} but has {a.start - prev_end}",
                        tuple(x for x in (prev_id, a.op_id) if x),
                    )
                )
            if a.setup_before != need:
                out.append(
                    Violation(
                        "setup_report",
                        f"{a.op_id} reports setup {a.setup_before}, is {need}",
                        (a.op_id,),
                    )
                )
            prev_family = fam
            prev_end, prev_id = a.end, a.op_id
    return out


def compute_kpis(problem: Problem, schedule: Schedule) -> Kpis:
    """KPIs of a schedule. Utilisation = busy minutes / available minutes up to the makespan."""
    by_op = schedule.by_op()
    makespan = schedule.makespan
    wt = tt = on_time = with_due = 0
    for j in problem.jobs:
        ends = [by_op[o.id].end for o in j.operations if o.id in by_op]
        if not ends or j.due is None:
            continue
        end = max(ends)
        late = max(0, end - j.due)
        with_due += 1
        on_time += late == 0
        tt += late
        wt += j.weight * late
    setups = [a.setup_before for a in schedule.assignments if a.setup_before > 0]
    util: dict[str, float] = {}
    for m in problem.machines:
        busy = sum(a.end - a.start for a in schedule.assignments if a.machine_id == m.id)
        down = sum(max(0, min(w.end, makespan) - max(w.start, 0)) for w in m.calendar)
        avail = max(makespan - down, 0)
        util[m.id] = round(busy / avail, 4) if avail else 0.0
    return Kpis(
        makespan=makespan,
        weighted_tardiness=wt,
        total_tardiness=tt,
        on_time_pct=round(100.0 * on_time / with_due, 2) if with_due else 100.0,
        setups_count=len(setups),
        setup_minutes=sum(setups),
        utilisation=util,
    )


def with_setups(problem: Problem, schedule: Schedule) -> Schedule:
    """Recompute each assignment's ``setup_before`` from its machine predecessor."""
    ops = problem.op_index()
    machines = problem.machine_index()
    fixed: list[Assignment] = []
    for mid, lane in schedule.by_machine().items():
        prev = machines[mid].initial_family if mid in machines else None
        for k, a in enumerate(lane):
            op = ops.get(a.op_id)
            fam = op.setup_family if op is not None else None
            s = (
                setup_ahead(problem, mid, prev, op, k == 0)
                if op
                else problem.setup_time(mid, prev, fam)
            )
            fixed.append(Assignment(a.op_id, a.job_id, mid, a.start, a.end, s))
            prev = fam
    return Schedule(tuple(sorted(fixed, key=lambda a: (a.start, a.machine_id, a.op_id))))


def setup_ahead(
    problem: Problem, machine_id: str, prev_family: str | None, op: Operation, first: bool
) -> int:
    """Changeover minutes before `op` on its machine: none ahead of work already running first
    on the machine (it was set up before it started, whatever the initial family says)."""
    if first and _running(op):
        return 0
    return problem.setup_time(machine_id, prev_family, op.setup_family)


def _running(op: Operation) -> bool:
    """Started on the floor (not a pin): see `FrozenAssignment.running`."""
    return op.frozen is not None and op.frozen.running
