"""Redundant constraints that only strengthen bounds (never change the set of solutions).

With alternative machines the solver sees each machine's load only through optional
intervals, which gives weak makespan bounds on flexible job shops. A global cumulative of
every operation (at its chosen duration) with capacity = number of machines it could use
adds the classic "total work / machines" reasoning to propagation and the LP.
"""

from __future__ import annotations

from .variables import Ctx

# Below this mean number of eligible machines per operation the extra cumulative costs more
# propagation time than its bound is worth (seen on Hurink edata, ~1.15 alternatives).
MIN_MEAN_ALTERNATIVES = 1.3


def add_redundant(ctx: Ctx) -> None:
    p, m = ctx.problem, ctx.model
    ops = p.operations
    if not ops or sum(len(o.eligible) for o in ops) / len(ops) < MIN_MEAN_ALTERNATIVES:
        return  # nearly a plain job shop: the per-machine no-overlaps already bound it well
    intervals = []
    for o in p.operations:
        ov = ctx.ops[o.id]
        lo, hi = min(o.eligible.values()), max(o.eligible.values())
        size = m.new_int_var(lo, hi, f"d[{o.id}]")
        if len(o.eligible) > 1:
            m.add(size == sum(d * ov.presence[mid] for mid, d in o.eligible.items()))
        intervals.append(m.new_interval_var(ov.start, size, ov.end, f"g[{o.id}]"))
        ctx.sizes[o.id] = size
    m.add_cumulative(intervals, [1] * len(intervals), len(p.machines))
