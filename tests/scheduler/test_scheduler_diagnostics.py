"""Bad input gets a diagnostic naming the jobs and operations at fault, never a traceback."""

from __future__ import annotations

from sched_helpers import chain, machines, op

from scheduler.diagnostics import diagnose
from scheduler.problem import FrozenAssignment, Job, Problem, Window
from scheduler.schedule import Status
from scheduler.solve import solve


def _codes(p: Problem) -> dict[str, list]:
    out: dict[str, list] = {}
    for d in diagnose(p):
        out.setdefault(d.code, []).append(d)
    return out


def test_precedence_cycle_names_every_operation_and_job_on_it() -> None:
    a = Job("A", (op("a1", "A", {"m": 1}, after=("b1",)),))
    b = Job("B", (op("b1", "B", {"m": 1}, after=("c1",)),))
    c = Job("C", (op("c1", "C", {"m": 1}, after=("a1",)),))
    ok = chain("D", [{"m": 1}, {"m": 1}])
    p = Problem((a, b, c, ok), machines("m"))
    found = _codes(p)["precedence_cycle"]
    assert len(found) == 1
    assert set(found[0].op_ids) == {"a1", "b1", "c1"}
    assert set(found[0].job_ids) == {"A", "B", "C"}
    r = solve(p, time_limit_s=5)
    assert r.status is Status.MODEL_INVALID and r.schedule is None
    assert "a1" in r.diagnostics[0].message


def test_cycle_inside_one_job_via_after_link() -> None:
    j = Job("J", (op("s1", "J", {"m": 1}, after=("s2",)), op("s2", "J", {"m": 1})))
    found = _codes(Problem((j,), machines("m")))["precedence_cycle"]
    assert set(found[0].op_ids) == {"s1", "s2"}


def test_operation_without_eligible_machine() -> None:
    p = Problem((chain("J", [{"m": 2}, {}]),), machines("m"))
    (d,) = _codes(p)["no_eligible_machine"]
    assert d.op_ids == ("J.1",) and d.job_ids == ("J",)
    assert solve(p).status is Status.MODEL_INVALID


def test_unknown_machine_is_named() -> None:
    p = Problem((chain("J", [{"m": 2, "ghost": 3}]),), machines("m"))
    (d,) = _codes(p)["unknown_machine"]
    assert d.machine_ids == ("ghost",) and d.op_ids == ("J.0",)


def test_zero_and_negative_durations_on_real_steps() -> None:
    p = Problem((chain("J", [{"m": 0}, {"m": -3, "n": 2}]),), machines("m", "n"))
    found = _codes(p)["non_positive_duration"]
    assert {(d.op_ids, d.machine_ids) for d in found} == {(("J.0",), ("m",)), (("J.1",), ("m",))}
    r = solve(p)
    assert r.status is Status.MODEL_INVALID
    assert "MODEL_INVALID" not in r.message and "fixed" in r.message


def test_windows_that_leave_no_room_before_the_horizon() -> None:
    ms = machines("m", "n", m=[Window(10, 100)], n=[Window(0, 95)])
    p = Problem((chain("J", [{"m": 20, "n": 20}]), chain("K", [{"m": 5}])), ms, horizon=100)
    found = _codes(p)
    (d,) = found["no_room"]
    assert d.op_ids == ("J.0",) and set(d.machine_ids) == {"m", "n"}
    assert solve(p).status is Status.MODEL_INVALID


def test_frozen_conflicts_are_reported() -> None:
    f1 = op("f1", "F", {"m": 10}, frozen=FrozenAssignment("m", 0))
    f2 = op("g1", "G", {"m": 10}, frozen=FrozenAssignment("m", 5))
    ms = machines("m", m=[Window(12, 20)])
    p = Problem((Job("F", (f1,)), Job("G", (f2,))), ms)
    found = _codes(p)
    assert found["frozen_overlap"][0].op_ids == ("f1", "g1")
    assert found["frozen_in_window"][0].op_ids == ("g1",)


def test_unreachable_due_date_is_only_a_warning() -> None:
    p = Problem((chain("J", [{"m": 10}, {"m": 10}], due=5),), machines("m"))
    (d,) = _codes(p)["due_unreachable"]
    assert d.severity == "warning" and d.job_ids == ("J",)
    r = solve(p, "weighted_tardiness", time_limit_s=5)
    assert r.status is Status.OPTIMAL
    assert r.kpis.weighted_tardiness == 15


def test_clean_problem_has_no_findings() -> None:
    assert diagnose(Problem((chain("J", [{"m": 1}]),), machines("m"))) == []


def test_unreachable_deadline_is_an_error() -> None:
    p = Problem((Job("J", (op("J.0", "J", {"m": 10}),), release=5, deadline=12),), machines("m"))
    (d,) = _codes(p)["deadline_unreachable"]
    assert d.severity == "error" and d.job_ids == ("J",)
    assert solve(p).status is Status.MODEL_INVALID
