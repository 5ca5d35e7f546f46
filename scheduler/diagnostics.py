"""Input diagnostics: find bad user data before the solver does, and name who is at fault.

``solve()`` runs ``diagnose`` first; any error-level finding turns into a MODEL_INVALID result
with these diagnostics, so a planner never sees a solver stack trace.
"""

from __future__ import annotations

from typing import TypedDict

from .calendars import horizon, next_fit, overlaps
from .problem import Problem
from .schedule import Diagnostic


class _Who(TypedDict):
    """The ``Diagnostic`` fields naming who is at fault."""

    job_ids: tuple[str, ...]
    op_ids: tuple[str, ...]


def diagnose(problem: Problem) -> list[Diagnostic]:
    """Every finding, errors first. Errors block solving; warnings do not."""
    found = (
        _machines_and_durations(problem)
        + _cycles(problem)
        + _frozen(problem)
        + _room(problem)
        + _due_warnings(problem)
    )
    return sorted(found, key=lambda d: d.severity != "error")


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity == "error"]


def _machines_and_durations(problem: Problem) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    known = {m.id for m in problem.machines}
    for o in problem.operations:
        who: _Who = {"job_ids": (o.job_id,), "op_ids": (o.id,)}
        if not o.eligible:
            out.append(
                Diagnostic(
                    "no_eligible_machine",
                    f"operation {o.id} of job {o.job_id} has no eligible machine",
                    **who,
                )
            )
        unknown = sorted(set(o.eligible) - known)
        if unknown:
            out.append(
                Diagnostic(
                    "unknown_machine",
                    f"operation {o.id} of job {o.job_id} names unknown machine(s) "
                    f"{', '.join(unknown)}",
                    machine_ids=tuple(unknown),
                    **who,
                )
            )
        for m, d in sorted(o.eligible.items()):
            if d <= 0:
                out.append(
                    Diagnostic(
                        "non_positive_duration",
                        f"operation {o.id} of job {o.job_id} lasts {d} min on {m}; "
                        "a real step must take at least 1 minute",
                        machine_ids=(m,),
                        **who,
                    )
                )
    return out


def _cycles(problem: Problem) -> list[Diagnostic]:
    """Iterative DFS over predecessor links; reports each distinct cycle once."""
    preds = problem.predecessors()
    ops = problem.op_index()
    state: dict[str, int] = {}  # 1 = on stack, 2 = done
    out: list[Diagnostic] = []
    seen_cycles: set[frozenset[str]] = set()
    for root in preds:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            nxt = preds[node]
            if i < len(nxt):
                stack.append((node, i + 1))
                p = nxt[i]
                if state.get(p) == 1:
                    cycle = path[path.index(p) :]
                    key = frozenset(cycle)
                    if key not in seen_cycles:
                        seen_cycles.add(key)
                        jobs = tuple(dict.fromkeys(ops[c].job_id for c in cycle))
                        out.append(
                            Diagnostic(
                                "precedence_cycle",
                                "precedence cycle: "
                                + " -> ".join(reversed(cycle + [p]))
                                + f" (jobs {', '.join(jobs)})",
                                job_ids=jobs,
                                op_ids=tuple(cycle),
                            )
                        )
                elif not state.get(p):
                    stack.append((p, 0))
            else:
                state[node] = 2
                path.pop()
    return out


def _frozen(problem: Problem) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    machines = problem.machine_index()
    lanes: dict[str, list[tuple[int, int, str, str]]] = {}
    for o in problem.operations:
        f = o.frozen
        if f is None or f.machine_id not in machines:
            continue
        end = f.start + o.eligible[f.machine_id]
        lanes.setdefault(f.machine_id, []).append((f.start, end, o.id, o.job_id))
        if overlaps(machines[f.machine_id].calendar, f.start, end):
            out.append(
                Diagnostic(
                    "frozen_in_window",
                    f"frozen operation {o.id} [{f.start},{end}) overlaps an "
                    f"unavailability window on {f.machine_id}",
                    job_ids=(o.job_id,),
                    op_ids=(o.id,),
                    machine_ids=(f.machine_id,),
                )
            )
    for mid, lane in lanes.items():
        lane.sort()
        for a, b in zip(lane, lane[1:], strict=False):
            if b[0] < a[1]:
                out.append(
                    Diagnostic(
                        "frozen_overlap",
                        f"frozen operations {a[2]} and {b[2]} overlap on {mid}",
                        job_ids=(a[3], b[3]),
                        op_ids=(a[2], b[2]),
                        machine_ids=(mid,),
                    )
                )
    return out


def _room(problem: Problem) -> list[Diagnostic]:
    """With an explicit horizon, an operation no eligible machine can fit before it has no room."""
    if problem.horizon is None:
        return []
    h = horizon(problem)
    machines = problem.machine_index()
    jobs = problem.job_index()
    out: list[Diagnostic] = []
    for o in problem.operations:
        if o.frozen is not None:
            continue
        earliest = max(problem.now, jobs[o.job_id].release)
        fits = [
            m
            for m, d in o.eligible.items()
            if m in machines and d > 0 and next_fit(machines[m].calendar, earliest, d) + d <= h
        ]
        if o.eligible and not fits:
            out.append(
                Diagnostic(
                    "no_room",
                    f"operation {o.id} of job {o.job_id} "
                    f"fits on none of {', '.join(sorted(o.eligible))} before the "
                    f"horizon {h}: calendar windows leave no room",
                    job_ids=(o.job_id,),
                    op_ids=(o.id,),
                    machine_ids=tuple(sorted(o.eligible)),
                )
            )
    return out


def _due_warnings(problem: Problem) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for j in problem.jobs:
        fastest = max(j.release, problem.now) + sum(o.min_duration for o in j.operations)
        if (
            j.deadline is not None
            and fastest > j.deadline
            and not any(o.frozen for o in j.operations)
        ):
            out.append(
                Diagnostic(
                    "deadline_unreachable",
                    f"job {j.id} cannot finish by its deadline {j.deadline} even "
                    f"alone (earliest {fastest})",
                    job_ids=(j.id,),
                )
            )
        if j.due is None or not j.operations:
            continue
        fastest = max(j.release, problem.now) + sum(o.min_duration for o in j.operations)
        if fastest > j.due:
            out.append(
                Diagnostic(
                    "due_unreachable",
                    f"job {j.id} cannot finish by its due {j.due} even alone (earliest {fastest})",
                    severity="warning",
                    job_ids=(j.id,),
                )
            )
    return out
