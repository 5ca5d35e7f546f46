"""One disjunctive resource per machine: its operations and its downtime never overlap."""

from __future__ import annotations

from ortools.sat.python import cp_model

from .variables import Ctx


def add_no_overlap(ctx: Ctx) -> None:
    per_machine: dict[str, list[cp_model.IntervalVar]] = {
        m.id: list(ctx.downtime.get(m.id, [])) for m in ctx.problem.machines
    }
    for ov in ctx.ops.values():
        for mid, interval in ov.intervals.items():
            per_machine[mid].append(interval)
    for intervals in per_machine.values():
        if len(intervals) > 1:
            ctx.model.add_no_overlap(intervals)
