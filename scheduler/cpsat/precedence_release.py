"""Route precedence, cross-job links, release times, "now" and frozen operations."""

from __future__ import annotations

from .variables import Ctx


def add_precedence_release(ctx: Ctx) -> None:
    p, m = ctx.problem, ctx.model
    jobs = p.job_index()
    started = {o.id for o in p.operations if o.frozen is not None and o.frozen.running}
    for oid, preds in p.predecessors().items():
        if oid in started:  # the floor started it already: what came before cannot be moved
            continue  # ahead of it (a pack started while its QC still ran is a fact, not a plan)
        for q in preds:
            m.add(ctx.ops[q].end <= ctx.ops[oid].start)
    for op in p.operations:
        ov = ctx.ops[op.id]
        if op.frozen is not None:
            m.add(ov.start == op.frozen.start)
            for mid, lit in ov.presence.items():
                if not isinstance(lit, int):
                    m.add(lit == int(mid == op.frozen.machine_id))
        else:
            m.add(ov.start >= max(jobs[op.job_id].release, p.now))
