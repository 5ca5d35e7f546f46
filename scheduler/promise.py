"""Capable-to-promise: when could a new order finish if slotted into the current plan as is?

Committed work never moves: each new step goes into the earliest gap of an eligible machine
that leaves the setups and calendars of everything already booked intact. Steps are placed in
route order, each at its earliest completion, so the answer comes in milliseconds. It is exact
for single-step orders (and whenever steps use distinct machines); for multi-step orders on
shared machines it is a safe, achievable promise (an upper bound on the true earliest).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from .diagnostics import diagnose, errors
from .problem import Job, Problem
from .schedule import Assignment, Diagnostic, Schedule
from .timeline import timelines_from
from .validate import with_setups


@dataclass(frozen=True)
class PromiseResult:
    ok: bool
    completion: int | None
    due_met: bool | None
    assignments: tuple[Assignment, ...]
    seconds: float
    diagnostics: tuple[Diagnostic, ...] = ()


def promise(problem: Problem, schedule: Schedule, new_job: Job) -> PromiseResult:
    """Earliest completion of ``new_job`` inserted into ``schedule`` without moving it."""
    t0 = time.perf_counter()
    probe = replace(problem, jobs=problem.jobs + (new_job,))
    bad = [d for d in errors(diagnose(probe)) if new_job.id in d.job_ids]
    if bad:
        return PromiseResult(False, None, None, (), time.perf_counter() - t0, tuple(bad))
    booked = [(a.machine_id, a.start, a.end, a.op_id) for a in schedule.assignments]
    lines = timelines_from(probe, booked)
    ends = {a.op_id: a.end for a in schedule.assignments}
    placed: list[Assignment] = []
    ready = max(problem.now, new_job.release)
    for op in new_job.operations:
        r = max([ready] + [ends[p] for p in op.after if p in ends])
        best: tuple[int, int, str] | None = None
        for mid, d in sorted(op.eligible.items()):
            s = lines[mid].fit(r, d, op.setup_family)
            if best is None or s + d < best[1]:
                best = (s, s + d, mid)
        assert best is not None  # diagnose() rejected ops without machines
        s, e, mid = best
        lines[mid].book(s, e, op.setup_family, op.id)
        placed.append(Assignment(op.id, new_job.id, mid, s, e))
        ends[op.id] = e
        ready = e
    full = with_setups(probe, Schedule(schedule.assignments + tuple(placed)))
    mine = tuple(a for a in full.assignments if a.job_id == new_job.id)
    completion = max((a.end for a in mine), default=ready)
    due_met = None if new_job.due is None else completion <= new_job.due
    return PromiseResult(True, completion, due_met, mine, time.perf_counter() - t0)
