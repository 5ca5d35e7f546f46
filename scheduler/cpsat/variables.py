"""Decision variables: per operation a start/end and one optional interval per eligible machine."""

from __future__ import annotations

from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from ..problem import Problem


@dataclass
class OpVars:
    start: cp_model.IntVar
    end: cp_model.IntVar
    presence: dict[str, cp_model.IntVar | int]  # machine id -> literal (or 1 when single)
    intervals: dict[str, cp_model.IntervalVar]


@dataclass
class Ctx:
    """Everything the constraint families share: the model, the problem, the variables."""

    model: cp_model.CpModel
    problem: Problem
    horizon: int
    # The earliest time on the axis: 0 ("now"), or earlier when work in progress started before
    # now (a frozen start is negative: the print began an hour ago and is still running).
    floor: int = 0
    ops: dict[str, OpVars] = field(default_factory=dict)
    # machine id -> list of (from_op or None for depot, to_op or None, literal, setup minutes)
    arcs: dict[str, list[tuple[str | None, str | None, cp_model.IntVar, int]]] = field(
        default_factory=dict
    )
    sizes: dict[str, cp_model.IntVar] = field(default_factory=dict)  # redundant.py durations
    empty: dict[str, cp_model.IntVar] = field(default_factory=dict)  # circuit: machine unused
    downtime: dict[str, list[cp_model.IntervalVar]] = field(default_factory=dict)
    job_end: dict[str, cp_model.IntVar] = field(default_factory=dict)
    tardiness: dict[str, cp_model.IntVar] = field(default_factory=dict)
    makespan: cp_model.IntVar | None = None
    setup_total: cp_model.LinearExpr | int = 0
    stability: cp_model.LinearExpr | int = 0


def add_variables(ctx: Ctx) -> None:
    """Start/end in [0, horizon] (a frozen operation from its own start, which may lie before
    now); exactly one eligible machine; fixed-size optional intervals."""
    m, h = ctx.model, ctx.horizon
    ctx.floor = min([0] + [o.frozen.start for o in ctx.problem.operations if o.frozen])
    for op in ctx.problem.operations:
        durations = sorted(op.eligible.items())
        lo = min(d for _, d in durations)
        hi = max(d for _, d in durations)
        first = min(0, op.frozen.start) if op.frozen is not None else 0
        start = m.new_int_var(first, h - lo, f"s[{op.id}]")
        end = m.new_int_var(first + lo, h, f"e[{op.id}]")
        presence: dict[str, cp_model.IntVar | int] = {}
        intervals: dict[str, cp_model.IntervalVar] = {}
        if len(durations) == 1:
            mid, d = durations[0]
            presence[mid] = 1
            intervals[mid] = m.new_interval_var(start, d, end, f"i[{op.id},{mid}]")
        else:
            for mid, d in durations:
                lit = m.new_bool_var(f"x[{op.id},{mid}]")
                presence[mid] = lit
                intervals[mid] = m.new_optional_fixed_size_interval_var(
                    start, d, lit, f"i[{op.id},{mid}]"
                )
                m.add(end == start + d).only_enforce_if(lit)
            m.add_exactly_one(presence.values())
            if lo == hi:
                m.add(end == start + lo)
        ctx.ops[op.id] = OpVars(start, end, presence, intervals)
