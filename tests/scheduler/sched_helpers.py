"""Factories and checks shared by the scheduler tests (no shared mutable fixtures).

A uniquely named helper module, not conftest.py, so `from sched_helpers import` never collides
with another area's conftest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scheduler.problem import Job, Machine, Operation, Problem, SetupMatrix
from scheduler.schedule import SolveResult
from scheduler.validate import validate

REPO = Path(__file__).resolve().parents[2]
BENCH = Path(os.environ.get("HUNAR_SHARED_DIR", REPO / ".." / "shared")).resolve() / "bench"
# the fixture (tests/scheduler/conftest.py) fails loudly when the folder is missing: no skips
needs_bench = pytest.mark.usefixtures("shared_bench")


def op(oid: str, job: str, eligible: dict[str, int], family: str | None = None, **kw) -> Operation:
    return Operation(oid, job, eligible, family, **kw)


def chain(job_id: str, steps: list[dict[str, int]], family: str | None = None, **job_kw) -> Job:
    """A job whose steps run in order; step k is ``<job>.<k>``."""
    ops = tuple(op(f"{job_id}.{k}", job_id, e, family) for k, e in enumerate(steps))
    return Job(job_id, ops, **job_kw)


def machines(*ids: str, **calendars) -> tuple[Machine, ...]:
    return tuple(Machine(m, tuple(calendars.get(m, ()))) for m in ids)


def setup_matrix(machine_id: str, pairs: dict[tuple[str, str], int]) -> SetupMatrix:
    times: dict[str, dict[str, int]] = {}
    for (a, b), t in pairs.items():
        times.setdefault(a, {})[b] = t
    return SetupMatrix(machine_id, times)


def assert_valid(problem: Problem, result: SolveResult) -> None:
    """Every returned schedule must pass the solver-free validator."""
    assert result.schedule is not None, result.diagnostics
    violations = validate(problem, result.schedule)
    assert violations == [], violations
    assert not [d for d in result.diagnostics if d.code == "internal_validation"]
