"""Hunar production scheduler: a pure package (stdlib + OR-Tools CP-SAT).

Typical use::

    from scheduler import Problem, Job, Operation, Machine, solve, validate
    result = solve(problem, "weighted_tardiness", time_limit_s=30, workers=2)
    if result.status.has_solution:
        assert validate(problem, result.schedule) == []
    else:
        print(result.message, result.diagnostics)

Time is integer minutes from ``Problem.origin``.
"""

from .batching import BatchReport, Part, Placement, Plate, PlateSpec, batch_parts, plate_job
from .cpsat.objective import ObjectiveSpec
from .diagnostics import diagnose
from .dispatch import dispatch
from .gantt import gantt_data, gantt_svg
from .problem import (
    FrozenAssignment,
    Job,
    Machine,
    Operation,
    PowerLimit,
    Problem,
    ProblemError,
    SetupMatrix,
    Window,
)
from .promise import PromiseResult, promise
from .reschedule import (
    Move,
    RescheduleResult,
    freeze_started,
    reschedule,
    with_breakdown,
    with_job,
)
from .schedule import Assignment, Diagnostic, Kpis, Schedule, SolveResult, Status
from .solve import best_dispatch, solve
from .validate import Violation, compute_kpis, validate

__all__ = [
    "Assignment",
    "BatchReport",
    "Diagnostic",
    "FrozenAssignment",
    "Job",
    "Kpis",
    "Machine",
    "Move",
    "ObjectiveSpec",
    "Operation",
    "Part",
    "Placement",
    "Plate",
    "PlateSpec",
    "PowerLimit",
    "Problem",
    "ProblemError",
    "PromiseResult",
    "RescheduleResult",
    "Schedule",
    "SetupMatrix",
    "SolveResult",
    "Status",
    "Violation",
    "Window",
    "batch_parts",
    "best_dispatch",
    "compute_kpis",
    "diagnose",
    "dispatch",
    "freeze_started",
    "gantt_data",
    "gantt_svg",
    "plate_job",
    "promise",
    "reschedule",
    "solve",
    "validate",
    "with_breakdown",
    "with_job",
]
