"""Backup power: the machines one UPS or generator carries draw at most its capacity together.

A cumulative with a capacity that changes over time: its fixed capacity is the most these
machines could ever draw at once, and in each outage window a fixed "filler" interval takes
away everything above the backup's capacity. Outside the windows the filler is absent, so
the grid carries whatever runs.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from ..power import capacities
from .variables import Ctx


def add_power(ctx: Ctx) -> None:
    for limit in ctx.problem.power:
        most = sum(limit.draws.values())
        intervals: list[cp_model.IntervalVar] = []
        demands: list[int] = []
        for ov in ctx.ops.values():
            for mid, interval in ov.intervals.items():
                if limit.draws.get(mid):
                    intervals.append(interval)
                    demands.append(limit.draws[mid])
        fillers = 0
        for k, (start, end, capacity) in enumerate(capacities(ctx.problem, limit)):
            s, e = max(start, ctx.floor), min(end, ctx.horizon)
            if e > s and most > capacity:
                name = f"power[{limit.id},{k}]"
                intervals.append(ctx.model.new_fixed_size_interval_var(s, e - s, name))
                demands.append(most - capacity)
                fillers += 1
        if fillers:  # without an outage window that binds, the grid carries everything
            ctx.model.add_cumulative(intervals, demands, most)
