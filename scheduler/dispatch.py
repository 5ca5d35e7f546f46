"""Dispatch baseline (EDD / ATC / earliest-completion), also the CP-SAT warm start.

A serial schedule-generation scheme: among ready operations, restrict to those that can start
before the earliest possible completion (Giffler-Thompson style, so no machine idles needlessly),
then pick by the rule, and insert into the earliest machine gap that respects setups, calendars
and everything already booked. Fast enough for thousands of operations in pure Python.

WHY the care with estimates: re-evaluating every ready operation after each booking made a
shop's 2,300 operations take minutes. A booking only invalidates the estimates it collides
with (``_refresh``), and past ``deadline`` estimates are no longer kept fresh at all: picks
use the ones already made and only the pick's slot is computed anew before it is booked, so
the plan stays complete and valid within the caller's time.
"""

from __future__ import annotations

import math
import time

from .power import PowerLedger
from .problem import Job, Operation, Problem
from .schedule import Assignment, Schedule
from .timeline import Timeline, timelines_from
from .validate import with_setups

RULES = ("ect", "mwkr", "edd", "atc")


def dispatch(
    problem: Problem,
    rule: str = "atc",
    atc_k: float = 2.0,
    deadline: float | None = None,
) -> Schedule:
    """A complete schedule by rule ``ect``/``mwkr`` (makespan), ``edd`` or ``atc`` (tardiness).

    Frozen operations stay where they are. ``deadline`` (a ``time.perf_counter()`` value)
    bounds the careful phase; the plan is complete and valid either way. Raises ValueError on
    a precedence cycle (call ``diagnostics.diagnose`` first: ``solve`` does).
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    ops = problem.op_index()
    jobs = problem.job_index()
    preds = problem.predecessors()
    succs: dict[str, list[str]] = {o: [] for o in preds}
    for o, ps in preds.items():
        for p in ps:
            succs[p].append(o)
    frozen = [o for o in ops.values() if o.frozen is not None]
    booked = [
        (
            o.frozen.machine_id,
            o.frozen.start,
            o.frozen.start + o.eligible[o.frozen.machine_id],
            o.id,
        )
        for o in frozen
        if o.frozen
    ]
    lines = timelines_from(problem, booked)
    power = PowerLedger(problem)
    for mid, s0, e0, _ in booked:
        power.book(mid, s0, e0)
    done: dict[str, Assignment] = {
        oid: Assignment(oid, ops[oid].job_id, mid, s, e) for mid, s, e, oid in booked
    }
    remaining = _remaining_work(problem)
    pbar = max(1.0, sum(o.min_duration for o in ops.values()) / max(len(ops), 1))
    waiting = {o: sum(1 for p in preds[o] if p not in done) for o in preds if o not in done}
    ready = {o for o, n in waiting.items() if n == 0}
    est: dict[str, tuple[int, int, str]] = {}
    while ready:
        for oid in ready:
            if oid not in est:
                est[oid] = _best_slot(
                    problem, ops[oid], jobs[ops[oid].job_id].release, preds[oid], done, lines, power
                )
        lazy = deadline is not None and time.perf_counter() > deadline
        pick = _pick(rule, ready, est, ops, jobs, remaining, pbar, atc_k)
        s, e, mid = est.pop(pick)
        op = ops[pick]
        if lazy:  # past the deadline estimates are not kept fresh: make the pick's slot anew
            s, e, mid = _best_slot(
                problem, op, jobs[op.job_id].release, preds[pick], done, lines, power
            )
        lines[mid].book(s, e, op.setup_family, pick)
        power.book(mid, s, e)
        done[pick] = Assignment(pick, op.job_id, mid, s, e)
        ready.discard(pick)
        if not lazy:
            _refresh(est, ops, lines[mid], mid, s, e, op.setup_family)
            _refresh_power(est, power, mid)
        for nxt in succs[pick]:
            if nxt in waiting:
                waiting[nxt] -= 1
                if waiting[nxt] == 0:
                    ready.add(nxt)
    if len(done) != len(ops):
        raise ValueError("precedence cycle: run diagnostics.diagnose(problem) first")
    return with_setups(problem, Schedule(tuple(done.values())))


def _refresh(
    est: dict[str, tuple[int, int, str]],
    ops: dict[str, Operation],
    line: Timeline,
    mid: str,
    start: int,
    end: int,
    family: str | None,
) -> None:
    """Forget the estimates a new booking on ``mid`` invalidates, and only those.

    A booking only takes time away from its machine, so an estimate on another machine, or on
    this one clear of the booking and its setups, is still the earliest: it stays.
    """
    for o in list(est):
        s, e, m = est[o]
        if m != mid:
            continue
        fam = ops[o].setup_family
        if s < end + line.setup(family, fam) and start < e + line.setup(fam, family):
            del est[o]


def _refresh_power(est: dict[str, tuple[int, int, str]], power: PowerLedger, mid: str) -> None:
    """A booking on a backup-powered machine may take power from its siblings' estimates."""
    limit = power.limit_of.get(mid)
    if limit is None:
        return
    for o in [o for o, (_, _, m) in est.items() if m != mid and m in limit.draws]:
        del est[o]


def _pick(
    rule: str,
    ready: set[str],
    est: dict[str, tuple[int, int, str]],
    ops: dict[str, Operation],
    jobs: dict[str, Job],
    remaining: dict[str, int],
    pbar: float,
    k: float,
) -> str:
    """Giffler-Thompson: among ops that can start before the earliest completion, the rule's."""
    t_min = min(est[o][1] for o in ready)
    cands = [o for o in ready if est[o][0] < t_min] or [min(ready, key=lambda o: est[o][1])]
    return min(cands, key=lambda o: _key(rule, o, est[o], ops, jobs, remaining, pbar, k))


def _best_slot(
    problem: Problem,
    op: Operation,
    release: int,
    preds: list[str],
    done: dict[str, Assignment],
    lines: dict[str, Timeline],
    power: PowerLedger,
) -> tuple[int, int, str]:
    ready_at = max([release, problem.now] + [done[p].end for p in preds])
    best: tuple[int, int, str] | None = None
    for mid, d in sorted(op.eligible.items()):
        s = lines[mid].fit(ready_at, d, op.setup_family)
        while (later := power.conflict(mid, s, s + d)) is not None:
            s = lines[mid].fit(later, d, op.setup_family)
        if best is None or (s + d, s) < (best[1], best[0]):
            best = (s, s + d, mid)
    assert best is not None, f"{op.id} has no eligible machine"
    return best


def _key(
    rule: str,
    oid: str,
    slot: tuple[int, int, str],
    ops: dict[str, Operation],
    jobs: dict[str, Job],
    remaining: dict[str, int],
    pbar: float,
    k: float,
) -> tuple[float | str, ...]:
    job = jobs[ops[oid].job_id]
    start, end, _ = slot
    if rule == "ect":
        return (end, -remaining[oid], oid)
    if rule == "mwkr":  # most work remaining: keeps long jobs moving (makespan)
        return (-remaining[oid], end, oid)
    due = job.due if job.due is not None else 10**12
    if rule == "edd":
        return (due, -job.priority, end, oid)
    p = max(end - start, 1)
    slack = max(0.0, due - remaining[oid] - start)
    index = (max(job.weight, 0) + 1e-6) / p * math.exp(-slack / (k * pbar))
    return (-job.priority, -index, end, oid)


def _remaining_work(problem: Problem) -> dict[str, int]:
    """Work from each op to its job's end along the route (shortest durations)."""
    rem: dict[str, int] = {}
    for j in problem.jobs:
        acc = 0
        for o in reversed(j.operations):
            acc += o.min_duration
            rem[o.id] = acc
    return rem
