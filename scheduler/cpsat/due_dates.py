"""Job completion times and tardiness against due dates (soft: tardiness is an objective)."""

from __future__ import annotations

from .variables import Ctx


def add_due_dates(ctx: Ctx) -> None:
    """Job end = end of its last route step; tardiness >= end - due (tight under minimisation)."""
    m, h = ctx.model, ctx.horizon
    for job in ctx.problem.jobs:
        if not job.operations:
            continue
        end = m.new_int_var(ctx.floor, h, f"C[{job.id}]")  # a running last step may end before now
        # the route is a chain, so its last operation ends the job
        m.add(end == ctx.ops[job.operations[-1].id].end)
        ctx.job_end[job.id] = end
        if job.deadline is not None:
            m.add(end <= job.deadline)
        if job.due is not None:
            t = m.new_int_var(0, max(h - job.due, 0), f"T[{job.id}]")
            m.add(t >= end - job.due)
            ctx.tardiness[job.id] = t
    ctx.makespan = m.new_int_var(ctx.floor, h, "makespan")
    for end in ctx.job_end.values():
        m.add(ctx.makespan >= end)
