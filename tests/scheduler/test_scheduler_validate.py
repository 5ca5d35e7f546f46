"""The validator must catch each kind of broken schedule (a validator that cannot fail is
worthless)."""

from __future__ import annotations

from dataclasses import replace

from sched_helpers import chain, machines, op, setup_matrix

from scheduler.problem import FrozenAssignment, Job, Problem, Window
from scheduler.schedule import Assignment, Schedule
from scheduler.validate import compute_kpis, validate, with_setups


def _problem() -> Problem:
    jobs = (
        chain("a", [{"m": 5}, {"n": 5}], "X", due=12, weight=2),
        chain("b", [{"m": 5, "n": 4}], "Y", release=3),
        Job("f", (op("f.0", "f", {"n": 2}, frozen=FrozenAssignment("n", 30)),)),
    )
    ms = machines("m", "n", n=[Window(40, 50, "maintenance")])
    return Problem(jobs, ms, {"m": setup_matrix("m", {("X", "Y"): 2})})


def _good() -> Schedule:
    return with_setups(
        _problem(),
        Schedule(
            (
                Assignment("a.0", "a", "m", 0, 5),
                Assignment("b.0", "b", "m", 7, 12),
                Assignment("a.1", "a", "n", 5, 10),
                Assignment("f.0", "f", "n", 30, 32),
            )
        ),
    )


def _rules(s: Schedule) -> set[str]:
    return {v.rule for v in validate(_problem(), s)}


def _swap(s: Schedule, op_id: str, **changes) -> Schedule:
    return Schedule(tuple(replace(a, **changes) if a.op_id == op_id else a for a in s.assignments))


def test_good_schedule_passes_and_has_kpis() -> None:
    assert validate(_problem(), _good()) == []
    k = compute_kpis(_problem(), _good())
    assert k.makespan == 32 and k.setups_count == 1 and k.setup_minutes == 2
    assert k.weighted_tardiness == 0 and k.on_time_pct == 100.0


def test_each_rule_is_detected() -> None:
    g = _good()
    assert "setup" in _rules(_swap(g, "b.0", start=6, end=11))
    assert "overlap" in _rules(_swap(g, "b.0", start=3, end=8))
    assert "precedence" in _rules(_swap(g, "a.1", start=4, end=9))
    assert "eligibility" in _rules(_swap(g, "a.0", machine_id="n"))
    assert "duration" in _rules(_swap(g, "a.1", end=7))
    assert "release" in _rules(
        _swap(_swap(g, "b.0", machine_id="n", start=1, end=5), "a.1", start=10, end=15)
    )
    assert "frozen" in _rules(_swap(g, "f.0", start=20, end=22))
    assert "calendar" in _rules(_swap(g, "a.1", start=38, end=43))
    assert "setup_report" in _rules(_swap(g, "b.0", setup_before=0))
    missing = Schedule(g.assignments[:-1])
    assert "coverage" in _rules(missing)
    assert "coverage" in _rules(Schedule(g.assignments + (Assignment("zz", "a", "m", 90, 95),)))


def test_now_forbids_unfrozen_starts_in_the_past() -> None:
    p = replace(_problem(), now=6)
    assert {v.rule for v in validate(p, _good())} == {"now"}


def test_tardiness_kpis() -> None:
    late = _swap(_good(), "a.1", start=15, end=20)
    k = compute_kpis(_problem(), late)
    assert k.weighted_tardiness == 16 and k.total_tardiness == 8 and k.on_time_pct == 0.0


def test_deadline_violation_is_detected() -> None:
    p = _problem()
    jobs = tuple(replace(j, deadline=8) if j.id == "a" else j for j in p.jobs)
    assert {v.rule for v in validate(replace(p, jobs=jobs), _good())} == {"deadline"}
