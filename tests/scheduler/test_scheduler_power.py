"""Backup power during load-shedding: machines on one UPS or generator share its capacity."""

from __future__ import annotations

import pytest
from sched_helpers import assert_valid, chain, machines

from scheduler.dispatch import dispatch
from scheduler.power import PowerLedger, peak, power_violations
from scheduler.problem import (
    FrozenAssignment,
    Job,
    Operation,
    PowerLimit,
    Problem,
    ProblemError,
    Window,
)
from scheduler.schedule import Assignment, Schedule
from scheduler.solve import solve
from scheduler.validate import validate

# A generator of 3000 W carries the mill (2200 W) and the laser (1400 W): during its outage
# window [0, 120) only one of them may work; afterwards the grid carries both.
GENERATOR = PowerLimit("generator", 3000, {"cnc": 2200, "laser": 1400}, (Window(0, 120),))


def _shop(limit: PowerLimit = GENERATOR) -> Problem:
    jobs = (chain("mill", [{"cnc": 60}], due=60), chain("cut", [{"laser": 60}], due=60))
    return Problem(jobs, machines("cnc", "laser"), power=(limit,))


@pytest.mark.parametrize("engine", ["cpsat", "dispatch"])
def test_two_machines_on_one_generator_are_staggered_during_the_outage(engine: str) -> None:
    p = _shop()
    if engine == "cpsat":
        r = solve(p, "makespan", time_limit_s=10)
        assert_valid(p, r)
        schedule = r.schedule
        assert r.kpis.makespan == 120  # one after the other inside the window
    else:
        schedule = dispatch(p, "ect")
        assert validate(p, schedule) == []
    assert schedule is not None
    a, b = sorted(schedule.assignments, key=lambda x: x.start)
    assert a.end <= b.start


def test_without_the_limit_both_run_at_once() -> None:
    p = Problem(_shop().jobs, machines("cnc", "laser"))
    r = solve(p, "makespan", time_limit_s=10)
    assert r.kpis.makespan == 60


def test_after_the_window_the_grid_carries_both() -> None:
    late = PowerLimit("generator", 3000, {"cnc": 2200, "laser": 1400}, (Window(200, 300),))
    p = _shop(late)
    r = solve(p, "makespan", time_limit_s=10)
    assert_valid(p, r)
    assert r.kpis.makespan == 60


def test_a_machine_drawing_more_than_the_backup_waits_for_the_grid() -> None:
    ups = PowerLimit("ups", 1000, {"cnc": 2200}, (Window(0, 90),))
    p = Problem((chain("mill", [{"cnc": 30}]),), machines("cnc"), power=(ups,))
    for schedule in (solve(p, "makespan", time_limit_s=10).schedule, dispatch(p, "ect")):
        assert schedule is not None and schedule.assignments[0].start == 90
        assert validate(p, schedule) == []


def test_the_checker_names_an_overloaded_backup() -> None:
    p = _shop()
    both = (Assignment("mill.0", "mill", "cnc", 0, 60), Assignment("cut.0", "cut", "laser", 0, 60))
    assert power_violations(p, both) == [
        "generator carries 3600 at 0, more than its 3000 during [0,120)"
    ]
    assert [v.rule for v in validate(p, Schedule(both))] == ["power"]


def test_running_work_over_the_capacity_keeps_the_plan_possible() -> None:
    """An outage announced after both started: what runs is a fact, nothing is added on top."""
    running = tuple(
        Job(j, (Operation(f"{j}.0", j, {m: 60}, frozen=FrozenAssignment(m, -10, True)),))
        for j, m in (("mill", "cnc"), ("cut", "laser"))
    )
    extra = chain("more", [{"laser": 30}])
    p = Problem(running + (extra,), machines("cnc", "laser"), power=(GENERATOR,))
    for schedule in (solve(p, "makespan", time_limit_s=10).schedule, dispatch(p, "ect")):
        assert schedule is not None and validate(p, schedule) == []


def test_peak_and_ledger() -> None:
    assert peak([(0, 10, 5), (5, 15, 3)], 0, 20) == (8, 5)
    ledger = PowerLedger(_shop())
    ledger.book("cnc", 0, 60)
    assert ledger.conflict("laser", 30, 90) == 60
    assert ledger.conflict("laser", 60, 120) is None


def test_power_limits_are_checked() -> None:
    with pytest.raises(ProblemError, match="unknown machine"):
        Problem((), machines("cnc"), power=(PowerLimit("g", 10, {"mill": 1}),))
    with pytest.raises(ProblemError, match="duplicate"):
        Problem(
            (),
            machines("cnc"),
            power=(PowerLimit("a", 10, {"cnc": 1}), PowerLimit("b", 10, {"cnc": 1})),
        )
    with pytest.raises(ProblemError, match="capacity"):
        PowerLimit("g", 0, {})
