"""``solve()``: diagnostics, dispatch warm start, CP-SAT, and a result value (never an exception
for a hard or impossible instance)."""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from .cpsat.model import add_hint, build_model, extract
from .cpsat.objective import ObjectiveSpec, set_objective, term
from .cpsat.variables import Ctx
from .diagnostics import diagnose, errors
from .dispatch import dispatch
from .lns import lns_applies, solve_lns
from .problem import Problem
from .schedule import Diagnostic, Kpis, Schedule, SolveResult, Status
from .validate import compute_kpis, validate

_STATUS = {
    cp_model.OPTIMAL: Status.OPTIMAL,
    cp_model.FEASIBLE: Status.FEASIBLE,
    cp_model.INFEASIBLE: Status.INFEASIBLE,
    cp_model.MODEL_INVALID: Status.MODEL_INVALID,
    cp_model.UNKNOWN: Status.UNKNOWN,
}


_BIG_MODEL_VARS = 20_000
_PROBING_MAX_VARS = 3_000


class _FirstSolution(cp_model.CpSolverSolutionCallback):
    """Records when the first solution arrived (the "first feasible plan" time)."""

    def __init__(self, t0: float) -> None:
        super().__init__()
        self.t0 = t0
        self.first: float | None = None

    def on_solution_callback(self) -> None:
        if self.first is None:
            self.first = time.perf_counter() - self.t0


def baseline_rules(spec: ObjectiveSpec) -> tuple[str, ...]:
    first = (
        spec.lexicographic[0]
        if spec.lexicographic
        else max(spec.weights, key=spec.weights.__getitem__)
    )
    return ("atc", "edd") if first == "weighted_tardiness" else ("mwkr", "ect")


DISPATCH_SHARE = 0.5  # of the time limit, for the careful phase of the warm start's rules


def best_dispatch(
    problem: Problem, spec: ObjectiveSpec, time_limit_s: float | None = None
) -> Schedule:
    """The best of the cheap dispatch rules for the objective's leading term (the warm start);
    with a time limit, each rule's careful phase gets its share of ``DISPATCH_SHARE``."""
    rules = baseline_rules(spec)
    budget = None if time_limit_s is None else time_limit_s * DISPATCH_SHARE / len(rules)
    plans = [
        dispatch(problem, r, deadline=None if budget is None else time.perf_counter() + budget)
        for r in rules
    ]
    if rules[0] == "atc":
        return min(plans, key=lambda s: compute_kpis(problem, s).weighted_tardiness)
    return min(plans, key=lambda s: s.makespan)


def solve(
    problem: Problem,
    objective: str | ObjectiveSpec = "makespan",
    time_limit_s: float = 10.0,
    workers: int = 2,
    warm_start: bool = True,
    *,
    previous: Schedule | None = None,
    stability_weight: int = 0,
    move_penalty: int = 0,
    seed: int = 0,
    log: bool = False,
    hint: Schedule | None = None,
) -> SolveResult:
    """Solve ``problem`` for ``objective`` within ``time_limit_s`` using ``workers`` threads.

    ``hint`` replaces the dispatch warm start. Big weighted-tardiness problems go to the
    window LNS in ``lns.py``. ``previous`` with ``stability_weight`` > 0 penalises moving its
    non-frozen operations (see ``reschedule``). Bad input gives MODEL_INVALID with
    diagnostics; a proof of impossibility gives INFEASIBLE; a time-out without any plan gives
    UNKNOWN (or, with a warm start, the dispatch plan as FEASIBLE plus a warning).
    """
    t0 = time.perf_counter()
    diags = diagnose(problem)
    if errors(diags):
        return SolveResult(
            Status.MODEL_INVALID,
            None,
            Kpis(),
            diagnostics=tuple(diags),
            solve_seconds=time.perf_counter() - t0,
        )
    spec = ObjectiveSpec.parse(objective)
    base: Schedule | None = None
    if warm_start:
        base = hint if hint is not None else best_dispatch(problem, spec, time_limit_s)
        if validate(problem, base):
            base = None  # e.g. an unfrozen predecessor of a frozen op: let the solver sort it out
    if base is not None and previous is None and lns_applies(problem, spec):
        return solve_lns(problem, base, time_limit_s, workers, seed, t0, diags)
    ctx = build_model(problem, previous, move_penalty)
    phases = [{t: 1} for t in spec.lexicographic] or [dict(spec.weights)]
    run = _run_phases(ctx, phases, base, t0, time_limit_s, workers, seed, log, stability_weight)
    status, schedule, obj, bound, first = run
    if schedule is None and base is not None and status == Status.UNKNOWN:
        schedule, status = base, Status.FEASIBLE
        diags.append(
            Diagnostic(
                "dispatch_fallback",
                "the solver found no plan in time; this is the dispatch baseline plan",
                severity="warning",
            )
        )
    if status == Status.INFEASIBLE:
        diags.append(
            Diagnostic(
                "infeasible",
                "no plan satisfies the frozen operations, calendars, deadlines and horizon together",
            )
        )
    if schedule is not None:
        for v in validate(problem, schedule):
            diags.append(Diagnostic("internal_validation", v.message, op_ids=v.op_ids))
    gap = None
    if obj is not None and bound is not None:
        gap = round((obj - bound) / max(abs(obj), 1e-9), 6) if obj else 0.0
    return SolveResult(
        status,
        schedule,
        compute_kpis(problem, schedule) if schedule else Kpis(),
        objective_value=obj,
        lower_bound=bound,
        gap=gap,
        solve_seconds=round(time.perf_counter() - t0, 3),
        first_solution_seconds=first,
        diagnostics=tuple(diags),
    )


def _run_phases(
    ctx: Ctx,
    phases: list[dict[str, int]],
    hint: Schedule | None,
    t0: float,
    time_limit_s: float,
    workers: int,
    seed: int,
    log: bool,
    stability_weight: int,
) -> tuple[Status, Schedule | None, float | None, float | None, float | None]:
    status, schedule, obj, bound, first = Status.UNKNOWN, None, None, None, None
    all_optimal = True
    for k, weights in enumerate(phases):
        left = time_limit_s - (time.perf_counter() - t0)
        budget = max(left / (len(phases) - k), 0.05)
        if hint is not None:
            ctx.model.clear_hints()
            add_hint(ctx, hint)
        set_objective(ctx, weights, stability_weight)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = budget
        solver.parameters.num_workers = max(1, workers)
        solver.parameters.random_seed = seed
        solver.parameters.log_search_progress = log
        n_vars = len(ctx.model.proto.variables)
        if n_vars > _PROBING_MAX_VARS:
            # presolve probing takes seconds to minutes on circuit-heavy models (setups)
            # before the first plan, and its time limit is not honoured in wall-clock terms
            solver.parameters.cp_model_probing_level = 0
        if n_vars > _BIG_MODEL_VARS:
            # with 2 workers only one would run LNS; on big models LNS is what improves plans
            solver.parameters.use_lns_only = True
        cb = _FirstSolution(t0)
        code = solver.solve(ctx.model, cb)
        st = _STATUS.get(code, Status.UNKNOWN)
        if first is None and cb.first is not None:
            first = round(cb.first, 3)
        if not st.has_solution:
            if schedule is None:
                return st, None, None, None, first
            break  # keep the previous phase's plan
        all_optimal &= st == Status.OPTIMAL
        schedule = extract(ctx, solver)
        obj, bound = solver.objective_value, solver.best_objective_bound
        hint = schedule
        if k + 1 < len(phases):
            (name,) = weights
            expr = term(ctx, name)
            if not isinstance(expr, int):
                ctx.model.add(expr <= solver.value(expr))
        status = Status.OPTIMAL if all_optimal else Status.FEASIBLE
    return status, schedule, obj, bound, first
