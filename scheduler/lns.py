"""Window LNS for shop-sized weighted-tardiness problems.

A monolithic CP-SAT model of thousands of operations spends most of a minute in presolve on
two workers and barely leaves its hint. Instead we repeatedly free a neighbourhood of the
current plan (either the operations starting in one time window on all machines, or a long
stretch on a few machines that share work) and re-optimise just those with CP-SAT:

* each freed stretch of a job becomes a sub-job whose release is the end of its (kept)
  route predecessor and whose hard deadline is the start of its (kept) route successor, or,
  for a job's last stretch, a little after its current end;
* kept operations on the same machines within reach become frozen operations of the
  sub-problem, so setups against them are modelled exactly;
* the current plan restricted to the window is the sub-problem's hint, so a sub-solve never
  does worse, and the merged plan stays valid by construction (and is validated anyway).
"""

from __future__ import annotations

import bisect
import random
import time
from dataclasses import replace

from .cpsat.objective import ObjectiveSpec
from .problem import FrozenAssignment, Job, Operation, Problem
from .schedule import Assignment, Diagnostic, Schedule, SolveResult, Status
from .validate import compute_kpis, validate, with_setups

BIG_SHOP_OPS = 600
WINDOW_OPS = 150
GROUP_MACHINES = 4
SUB_LIMIT_S = 4.0  # per neighbourhood solve
WINDOW_SHARE = 0.5  # share of time-window (vs machine-group) neighbourhoods


def lns_applies(problem: Problem, spec: ObjectiveSpec) -> bool:
    pure_wt = dict(spec.weights) == {"weighted_tardiness": 1} and not spec.lexicographic
    return pure_wt and len(problem.operations) >= BIG_SHOP_OPS


def solve_lns(
    problem: Problem,
    start: Schedule,
    time_limit_s: float,
    workers: int,
    seed: int,
    t0: float,
    diags: list[Diagnostic],
) -> SolveResult:
    """Improve ``start`` window by window until the time limit; always returns a valid plan."""
    from .solve import solve  # solve() dispatches here for big shops

    rng = random.Random(seed)
    linked = {o.id for o in problem.operations if o.after} | {
        p for o in problem.operations for p in o.after
    }
    current = start
    best_wt = compute_kpis(problem, current).weighted_tardiness
    rounds = improved = 0
    first = round(time.perf_counter() - t0, 3)
    while best_wt > 0:
        left = time_limit_s - (time.perf_counter() - t0)
        if left < 1.0:
            break
        group: set[str] | None = None
        if rng.random() < WINDOW_SHARE:
            free = _pick_window(problem, current, rng, linked)
        else:
            free, group = _pick_machines(problem, current, rng, linked)
        if not free:
            break
        sub, sub_hint = _subproblem(problem, current, free, group)
        res = solve(
            sub, "weighted_tardiness", min(left, SUB_LIMIT_S), workers, hint=sub_hint, seed=seed
        )
        rounds += 1
        if res.schedule is None:
            continue
        merged = _merge(problem, current, res.schedule, free)
        wt = compute_kpis(problem, merged).weighted_tardiness
        if wt <= best_wt and not validate(problem, merged):
            improved += wt < best_wt
            current, best_wt = merged, wt
    diags.append(
        Diagnostic(
            "lns", f"window LNS: {rounds} neighbourhoods, {improved} improved", severity="info"
        )
    )
    for v in validate(problem, current):
        diags.append(Diagnostic("internal_validation", v.message, op_ids=v.op_ids))
    return SolveResult(
        Status.FEASIBLE,
        current,
        compute_kpis(problem, current),
        objective_value=best_wt,
        solve_seconds=round(time.perf_counter() - t0, 3),
        first_solution_seconds=first,
        diagnostics=tuple(diags),
    )


def _pick_window(problem: Problem, s: Schedule, rng: random.Random, linked: set[str]) -> set[str]:
    """About WINDOW_OPS movable ops starting around a late job's last operation."""
    by_op = s.by_op()
    late = [
        j
        for j in problem.jobs
        if j.due is not None and j.operations and by_op[j.operations[-1].id].end > j.due
    ]
    if not late:
        return set()
    job = rng.choice(late)
    centre = by_op[job.operations[-1].id].start
    movable = sorted((a.start, a.op_id) for a in s.assignments)
    ops = problem.op_index()
    starts = [t for t, _ in movable]
    k = bisect.bisect_left(starts, centre)
    lo = max(0, k - rng.randint(WINDOW_OPS // 2, WINDOW_OPS))
    hi = min(len(movable), lo + WINDOW_OPS)
    return {oid for _, oid in movable[lo:hi] if ops[oid].frozen is None and oid not in linked}


def _pick_machines(
    problem: Problem, s: Schedule, rng: random.Random, linked: set[str]
) -> tuple[set[str], set[str]]:
    """About WINDOW_OPS ops on a few machines that share work, around a late job's step:
    a long stretch of time on few machines, so the sequence itself can change."""
    by_op = s.by_op()
    ops = problem.op_index()
    late = [
        j
        for j in problem.jobs
        if j.due is not None and j.operations and by_op[j.operations[-1].id].end > j.due
    ]
    steps = [o for j in late for o in j.operations if o.frozen is None]
    if not steps:
        return set(), set()
    pivot = by_op[rng.choice(steps).id]
    lanes = s.by_machine()
    group = {pivot.machine_id}
    for _ in range(4 * GROUP_MACHINES):
        if len(group) >= GROUP_MACHINES:
            break
        a = rng.choice(lanes[rng.choice(sorted(group))])
        group |= {rng.choice(sorted(ops[a.op_id].eligible))}
    run = sorted((a.start, a.op_id) for m in group for a in lanes.get(m, []))
    k = bisect.bisect_left([t for t, _ in run], pivot.start)
    lo = max(0, k - rng.randint(WINDOW_OPS // 4, WINDOW_OPS // 2))
    free = {
        oid
        for _, oid in run[lo : lo + WINDOW_OPS // 2]
        if ops[oid].frozen is None and oid not in linked
    }
    return free, group


def _subproblem(
    problem: Problem, s: Schedule, free: set[str], group: set[str] | None = None
) -> tuple[Problem, Schedule]:
    """Freed ops become sub-jobs boxed into the window they occupy now; kept ops around them
    become frozen ops. The current placement of the freed ops is feasible in it (the hint)."""
    by_op = s.by_op()
    win_lo = min(by_op[o].start for o in free)
    win_hi = max(by_op[o].end for o in free)
    jobs: list[Job] = []
    for j in problem.jobs:
        seg = [o for o in j.operations if o.id in free]
        if not seg:
            continue
        if group is not None:  # stay on the chosen machines (the current one is among them)
            seg = [
                replace(o, eligible={m: d for m, d in o.eligible.items() if m in group})
                for o in seg
            ]
        ids = [o.id for o in j.operations]
        first, last = ids.index(seg[0].id), ids.index(seg[-1].id)
        release = max(j.release, problem.now, win_lo, by_op[ids[first - 1]].end if first else 0)
        deadline = win_hi
        if last + 1 < len(ids):
            deadline = min(deadline, by_op[ids[last + 1]].start)
        jobs.append(
            Job(
                j.id,
                tuple(seg),
                release,
                j.due if last + 1 == len(ids) else None,
                j.weight,
                j.priority,
                deadline,
            )
        )
    ops = problem.op_index()
    machines = group if group is not None else {m for o in free for m in ops[o].eligible}
    kept = _kept_neighbours(s, free, machines, win_lo, win_hi)
    for a in kept:
        o = ops[a.op_id]
        frozen = Operation(
            a.op_id,
            f"kept:{a.op_id}",
            {a.machine_id: a.end - a.start},
            o.setup_family,
            FrozenAssignment(a.machine_id, a.start),
        )
        jobs.append(Job(f"kept:{a.op_id}", (frozen,)))
    sub = Problem(tuple(jobs), problem.machines, problem.setups, None, problem.now)
    kept_ids = {a.op_id for a in kept}
    hint = Schedule(
        tuple(
            Assignment(
                a.op_id,
                a.job_id if a.op_id in free else f"kept:{a.op_id}",
                a.machine_id,
                a.start,
                a.end,
            )
            for a in s.assignments
            if a.op_id in free or a.op_id in kept_ids
        )
    )
    return sub, with_setups(sub, hint)


def _kept_neighbours(
    s: Schedule, free: set[str], machines: set[str], lo: int, hi: int
) -> list[Assignment]:
    """Kept ops on the freed ops' machines that overlap [lo, hi], plus one on either side."""
    out = []
    for mid, lane in s.by_machine().items():
        if mid not in machines:
            continue
        lane = [a for a in lane if a.op_id not in free]
        inside = [k for k, a in enumerate(lane) if a.end > lo and a.start < hi]
        before = [k for k, a in enumerate(lane) if a.end <= lo]
        after = [k for k, a in enumerate(lane) if a.start >= hi]
        picks = set(inside) | ({before[-1]} if before else set()) | ({after[0]} if after else set())
        out += [lane[k] for k in sorted(picks)]
    return out


def _merge(problem: Problem, s: Schedule, sub: Schedule, free: set[str]) -> Schedule:
    new = {a.op_id: a for a in sub.assignments if a.op_id in free}
    ops = problem.op_index()
    merged = tuple(
        replace(new[a.op_id], job_id=ops[a.op_id].job_id) if a.op_id in new else a
        for a in s.assignments
    )
    return with_setups(problem, Schedule(merged))
