"""Assemble the CP-SAT model from the constraint families, and read a schedule back out."""

from __future__ import annotations

from ortools.sat.python import cp_model

from ..calendars import horizon
from ..problem import Problem
from ..schedule import Assignment, Schedule
from ..validate import with_setups
from .calendars import add_calendars
from .due_dates import add_due_dates
from .no_overlap import add_no_overlap
from .power import add_power
from .precedence_release import add_precedence_release
from .redundant import add_redundant
from .setups import add_setups
from .variables import Ctx, add_variables


def build_model(problem: Problem, previous: Schedule | None = None, move_penalty: int = 0) -> Ctx:
    """The full model without an objective. ``previous`` adds a stability expression: minutes
    moved plus ``move_penalty`` per machine change, over the ops it lists that are not frozen."""
    ctx = Ctx(cp_model.CpModel(), problem, horizon(problem))
    add_variables(ctx)
    add_calendars(ctx)
    add_no_overlap(ctx)
    add_setups(ctx)
    add_power(ctx)
    add_precedence_release(ctx)
    add_due_dates(ctx)
    add_redundant(ctx)
    if previous is not None:
        _add_stability(ctx, previous, move_penalty)
    return ctx


def _add_stability(ctx: Ctx, previous: Schedule, move_penalty: int) -> None:
    ops = ctx.problem.op_index()
    terms: list[cp_model.LinearExpr | int] = []
    for a in previous.assignments:
        op = ops.get(a.op_id)
        if op is None or op.frozen is not None:
            continue
        ov = ctx.ops[a.op_id]
        dev = ctx.model.new_int_var(0, ctx.horizon, f"dev[{a.op_id}]")
        ctx.model.add_abs_equality(dev, ov.start - a.start)
        terms.append(dev)
        lit = ov.presence.get(a.machine_id)
        if move_penalty and lit is not None and not isinstance(lit, int):
            terms.append(move_penalty * (1 - lit))
        elif move_penalty and lit is None:
            terms.append(move_penalty)
    ctx.stability = sum(terms) if terms else 0


def add_hint(ctx: Ctx, schedule: Schedule) -> None:
    """Hint every decision variable from a complete schedule (e.g. the dispatch baseline)."""
    m = ctx.model
    by_op = schedule.by_op()
    for oid, ov in ctx.ops.items():
        a = by_op.get(oid)
        if a is None:
            continue
        m.add_hint(ov.start, a.start)
        m.add_hint(ov.end, a.end)
        if oid in ctx.sizes:
            m.add_hint(ctx.sizes[oid], a.end - a.start)
        for mid, lit in ov.presence.items():
            if not isinstance(lit, int):
                m.add_hint(lit, mid == a.machine_id)
    lanes = schedule.by_machine()
    for mid, arcs in ctx.arcs.items():
        order = [a.op_id for a in lanes.get(mid, [])]
        true = set(zip([None, *order], [*order, None], strict=True))
        for src, dst, lit, _ in arcs:
            m.add_hint(lit, (src, dst) in true)
        if mid in ctx.empty:
            m.add_hint(ctx.empty[mid], not order)
    ends = {
        j.id: by_op[j.operations[-1].id].end
        for j in ctx.problem.jobs
        if j.operations and j.operations[-1].id in by_op
    }
    for jid, var in ctx.job_end.items():
        if jid in ends:
            m.add_hint(var, ends[jid])
    jobs = ctx.problem.job_index()
    for jid, var in ctx.tardiness.items():
        if jid in ends:
            m.add_hint(var, max(0, ends[jid] - (jobs[jid].due or 0)))
    if ctx.makespan is not None and ends:
        m.add_hint(ctx.makespan, max(ends.values()))


def extract(ctx: Ctx, value: cp_model.CpSolver | cp_model.CpSolverSolutionCallback) -> Schedule:
    """Read the schedule from a solver (or callback) holding a solution."""
    out: list[Assignment] = []
    for op in ctx.problem.operations:
        ov = ctx.ops[op.id]
        mid = next(
            m for m, lit in ov.presence.items() if isinstance(lit, int) or value.boolean_value(lit)
        )
        s = value.value(ov.start)
        out.append(Assignment(op.id, op.job_id, mid, s, s + op.eligible[mid]))
    return with_setups(ctx.problem, Schedule(tuple(out)))
