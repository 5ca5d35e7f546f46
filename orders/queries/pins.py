"""Pinned operations after a solve: was each pin honoured, and if not, which one and why.

A planner's pin is a hard slot in the model; when it cannot be kept (its predecessors cannot
finish in time, it falls off shift, it overlaps started work) the solver alone only says
INFEASIBLE. Naming the pins that moved is what lets the planner act on it.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from orders.models import Operation
from orders.queries.planning_problem import PlanningProblem, at_minute
from scheduler.schedule import Diagnostic, SolveResult


def exact_pins(pp: PlanningProblem) -> dict[str, int]:
    """Op key -> frozen start minute, for the pins frozen at their start in this problem."""
    ops = pp.problem.op_index()
    return {k: f.start for k in pp.pins if (f := ops[k].frozen) is not None}


def pin_trouble(result: SolveResult, pp: PlanningProblem) -> bool:
    """True when frozen pins may be why there is no plan (infeasible, or invalid at a pin)."""
    pinned = exact_pins(pp)
    if not pinned or result.schedule is not None:
        return False
    if result.status.value == "INFEASIBLE":
        return True
    return result.status.value == "MODEL_INVALID" and any(
        o in pinned for d in result.diagnostics if d.severity == "error" for o in d.op_ids
    )


def _what(session: Session, pp: PlanningProblem, key: str) -> str:
    """An operation, or a released plate (a pin on one member moves all of them)."""
    if key in pp.op_rows:
        op = session.get_one(Operation, pp.op_rows[key])
        return f"operation {op.id} ({op.step}, line {op.order_line_id})"
    members = pp.plates.members.get(key, []) if pp.plates else []
    return f"the plate of operations {', '.join(map(str, members))}"


def pin_diagnostics(
    session: Session, strict: PlanningProblem, result: SolveResult
) -> tuple[Diagnostic, ...]:
    """One finding per pin of `strict` that the (relaxed) `result` did not keep at its start."""
    placed = {a.op_id: a for a in result.schedule.assignments} if result.schedule else {}
    out = []
    for key, start in exact_pins(strict).items():
        a = placed.get(key)
        if a is not None and a.start == start:
            continue
        machine, wanted = strict.pins[key]
        what = _what(session, strict, key)
        when = f"{wanted:%Y-%m-%d %H:%M} UTC"
        if a is None:
            text, severity = (
                "cannot be honoured, and there is no plan even without its start",
                "error",
            )
        else:
            planned = at_minute(strict.origin, a.start)
            text = f"cannot start then; planned on {a.machine_id} at {planned:%Y-%m-%d %H:%M} UTC"
            severity = "warning"
        out.append(
            Diagnostic(
                "pin_not_honoured",
                f"{what} is pinned to {machine} at {when} but {text}",
                severity=severity,
                job_ids=(strict.problem.op_index()[key].job_id,),
                op_ids=(key,),
                machine_ids=(machine,),
            )
        )
    return tuple(out)
