"""Result values: assignments, schedules, KPIs, diagnostics and the solve result."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Assignment:
    """One operation placed on one machine; ``setup_before`` minutes of changeover precede it."""

    op_id: str
    job_id: str
    machine_id: str
    start: int
    end: int
    setup_before: int = 0


@dataclass(frozen=True)
class Schedule:
    """A set of assignments, one per operation."""

    assignments: tuple[Assignment, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "assignments", tuple(self.assignments))

    def by_op(self) -> dict[str, Assignment]:
        return {a.op_id: a for a in self.assignments}

    def by_machine(self) -> dict[str, list[Assignment]]:
        """Assignments per machine in start order."""
        lanes: dict[str, list[Assignment]] = {}
        for a in sorted(self.assignments, key=lambda a: (a.start, a.end, a.op_id)):
            lanes.setdefault(a.machine_id, []).append(a)
        return lanes

    @property
    def makespan(self) -> int:
        return max((a.end for a in self.assignments), default=0)


class Status(enum.Enum):
    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"
    INFEASIBLE = "INFEASIBLE"
    UNKNOWN = "UNKNOWN"
    MODEL_INVALID = "MODEL_INVALID"

    @property
    def has_solution(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)

    @property
    def ui_text(self) -> str:
        """Planner-facing wording: INFEASIBLE and UNKNOWN mean very different things."""
        return _UI_TEXT[self]


_UI_TEXT = {
    Status.OPTIMAL: "Optimal plan: no better plan exists for this objective.",
    Status.FEASIBLE: "Valid plan found; the time limit stopped the search before proving it best.",
    Status.INFEASIBLE: "No plan can exist: the constraints contradict each other. See diagnostics.",
    Status.UNKNOWN: "No plan found within the time limit. The problem may still be solvable: "
    "allow more time or relax constraints.",
    Status.MODEL_INVALID: "The input has errors that must be fixed first. See diagnostics.",
}


@dataclass(frozen=True)
class Diagnostic:
    """A finding about the input, naming the jobs and operations at fault."""

    code: str
    message: str
    severity: str = "error"  # "error" blocks solving; "warning" and "info" do not
    job_ids: tuple[str, ...] = ()
    op_ids: tuple[str, ...] = ()
    machine_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Kpis:
    makespan: int = 0
    weighted_tardiness: int = 0
    total_tardiness: int = 0
    on_time_pct: float = 100.0
    setups_count: int = 0
    setup_minutes: int = 0
    utilisation: dict[str, float] = field(default_factory=dict)

    def delta(self, other: Kpis) -> dict[str, float]:
        """``other - self`` for the scalar KPIs (used to report what a reschedule changed)."""
        keys = (
            "makespan",
            "weighted_tardiness",
            "total_tardiness",
            "on_time_pct",
            "setups_count",
            "setup_minutes",
        )
        return {k: round(getattr(other, k) - getattr(self, k), 3) for k in keys}


@dataclass(frozen=True)
class SolveResult:
    status: Status
    schedule: Schedule | None
    kpis: Kpis
    objective_value: float | None = None
    lower_bound: float | None = None
    gap: float | None = None
    solve_seconds: float = 0.0
    first_solution_seconds: float | None = None
    diagnostics: tuple[Diagnostic, ...] = ()

    @property
    def message(self) -> str:
        return self.status.ui_text
