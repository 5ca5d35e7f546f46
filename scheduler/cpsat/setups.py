"""Sequence-dependent setups with one circuit per machine (successor literals).

Node 0 is the machine's depot (its initial state). Arc i->j true means j directly follows i on
the machine, which forces start_j >= end_i + setup(family_i, family_j). A self-loop on i means i
runs elsewhere. Arcs that would contradict a job's route (a later step directly before an
earlier one) are left out: they could never be true and only cost the solver time.
"""

from __future__ import annotations

from ..problem import Problem
from .variables import Ctx


def add_setups(ctx: Ctx) -> None:
    p = ctx.problem
    ops = p.op_index()
    rank = {o.id: (o.job_id, k) for j in p.jobs for k, o in enumerate(j.operations)}
    setup_total = []
    for machine in p.machines:
        members = [oid for oid, ov in ctx.ops.items() if machine.id in ov.presence]
        fams = {ops[o].setup_family for o in members} | {machine.initial_family}
        if not _needs_circuit(p, machine.id, fams) or not members:
            continue
        mid, m = machine.id, ctx.model
        index = {oid: k + 1 for k, oid in enumerate(members)}
        arcs = []
        circuit = []
        for oid in members:
            ov, fam, lit = ctx.ops[oid], ops[oid].setup_family, ctx.ops[oid].presence[mid]
            if isinstance(lit, int):
                lit = m.new_constant(1)
            else:
                circuit.append((index[oid], index[oid], ~lit))
            first = m.new_bool_var(f"first[{mid},{oid}]")
            last = m.new_bool_var(f"last[{mid},{oid}]")
            circuit += [(0, index[oid], first), (index[oid], 0, last)]
            # running work was set up before it started: no changeover ahead of it
            frozen = ops[oid].frozen
            running = frozen is not None and frozen.running
            s0 = 0 if running else p.setup_time(mid, machine.initial_family, fam)
            if s0:
                m.add(ov.start >= s0).only_enforce_if(first)
            arcs += [(None, oid, first, s0), (oid, None, last, 0)]
            for other in members:
                if other == oid or _route_forbids(rank, oid, other):
                    continue
                arc = m.new_bool_var(f"arc[{mid},{oid},{other}]")
                st = p.setup_time(mid, fam, ops[other].setup_family)
                m.add(ctx.ops[other].start >= ov.end + st).only_enforce_if(arc)
                circuit.append((index[oid], index[other], arc))
                arcs.append((oid, other, arc, st))
                if st:
                    setup_total.append(st * arc)
        # an empty machine closes the depot onto itself
        empty = m.new_bool_var(f"empty[{mid}]")
        circuit.append((0, 0, empty))
        m.add_circuit(circuit)
        ctx.arcs[mid] = arcs
        ctx.empty[mid] = empty
        setup_total += [s0 * lit for (a, _, lit, s0) in arcs if a is None and s0]
    ctx.setup_total = sum(setup_total) if setup_total else 0


def _needs_circuit(problem: Problem, machine_id: str, families: set[str | None]) -> bool:
    fams = [f for f in families if f is not None]
    return any(problem.setup_time(machine_id, a, b) for a in fams for b in fams)


def _route_forbids(rank: dict[str, tuple[str, int]], a: str, b: str) -> bool:
    """True when b comes earlier than a in the same job's route, so b can't directly follow a."""
    ja, ka = rank[a]
    jb, kb = rank[b]
    return ja == jb and kb < ka
