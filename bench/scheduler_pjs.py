"""Run PyJobShop on a Hunar ``Problem`` (makespan objective) for the side-by-side bench.

Bench-only: PyJobShop is a test dependency, never imported by ``scheduler/``. Its solution is
converted back to our ``Schedule`` and checked by our ``validate`` like ours is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pyjobshop import Model

from scheduler.problem import Problem
from scheduler.schedule import Assignment, Schedule
from scheduler.validate import with_setups


@dataclass(frozen=True)
class PjsResult:
    status: str
    makespan: float | None
    lower_bound: float | None
    seconds: float
    schedule: Schedule | None


def solve_pyjobshop(problem: Problem, time_limit: float, workers: int) -> PjsResult:
    model = Model()
    machines = {m.id: model.add_machine(name=m.id) for m in problem.machines}
    tasks = {}
    op_list = problem.operations
    for job in problem.jobs:
        pj = model.add_job(weight=job.weight, release_date=job.release, name=job.id)
        for op in job.operations:
            task = model.add_task(job=pj, name=op.id)
            tasks[op.id] = task
            for mid, d in op.eligible.items():
                model.add_mode(task, machines[mid], d)
    for oid, preds in problem.predecessors().items():
        for p in preds:
            model.add_end_before_start(tasks[p], tasks[oid])
    if problem.has_setups():
        for mid, pm in machines.items():
            members = [o for o in op_list if mid in o.eligible]
            for a in members:
                for b in members:
                    t = problem.setup_time(mid, a.setup_family, b.setup_family)
                    if a is not b and t:
                        model.add_setup_time(pm, tasks[a.id], tasks[b.id], t)
    model.set_objective(weight_makespan=1)
    t0 = time.perf_counter()
    result = model.solve(time_limit=time_limit, num_workers=workers, display=False)
    seconds = time.perf_counter() - t0
    status = result.status.name
    if result.objective == float("inf"):
        return PjsResult(status, None, None, seconds, None)
    index = {i: m.id for i, m in enumerate(problem.machines)}
    out = []
    for op, st in zip(op_list, result.best.tasks, strict=True):
        out.append(Assignment(op.id, op.job_id, index[st.resources[0]], st.start, st.end))
    schedule = with_setups(problem, Schedule(tuple(out)))
    return PjsResult(status, result.objective, result.lower_bound, seconds, schedule)
