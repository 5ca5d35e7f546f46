"""Capable-to-promise: earliest completion without moving committed work."""

from __future__ import annotations

from sched_helpers import chain, machines, setup_matrix

from scheduler.generate import realistic_shop
from scheduler.problem import Job, Machine, Operation, Problem, Window
from scheduler.promise import promise
from scheduler.reschedule import with_job
from scheduler.schedule import Assignment, Schedule
from scheduler.solve import solve
from scheduler.validate import validate, with_setups


def _combined(p: Problem, s: Schedule, job: Job, assignments) -> tuple[Problem, Schedule]:
    full = with_job(p, job)
    return full, with_setups(full, Schedule(s.assignments + tuple(assignments)))


def test_single_step_takes_the_earliest_gap_respecting_setups() -> None:
    ms = (Machine("m", (Window(30, 40),)),)
    p = Problem(
        (chain("a", [{"m": 10}], "X"), chain("b", [{"m": 5}], "X")),
        ms,
        {"m": setup_matrix("m", {("Y", "X"): 4, ("X", "Y"): 4})},
    )
    s = with_setups(
        p, Schedule((Assignment("a.0", "a", "m", 0, 10), Assignment("b.0", "b", "m", 25, 30)))
    )
    new = chain("n", [{"m": 8}], "Y", due=100)
    r = promise(p, s, new)
    assert r.ok
    # gap [10,25): 10 + setup 4 = 14, ends 22, then 4 min setup back to X by 26 > 25: no fit.
    # Next: after b, 30 + 4 setup = 34, but [34,42) hits the window [30,40): starts 40, ends 48
    # (a changeover is a gap between operations; it may overlap downtime).
    assert r.completion == 48 and r.due_met is True
    full, combined = _combined(p, s, new, r.assignments)
    assert validate(full, combined) == []


def test_multi_step_order_in_a_solved_shop_moves_nothing() -> None:
    p = realistic_shop(200, 10, seed=4)
    base = solve(p, "weighted_tardiness", time_limit_s=3)
    s = base.schedule
    new = Job(
        "new",
        (
            Operation("new.0", "new", {"print-0": 120, "print-1": 100}, "fdm/PLA/red"),
            Operation("new.1", "new", {"post-0": 30}),
            Operation("new.2", "new", {"qc-0": 10}),
        ),
        release=60,
        due=5000,
    )
    r = promise(p, s, new)
    assert r.ok and r.seconds < 1.0
    assert r.completion == max(a.end for a in r.assignments)
    assert r.assignments[0].start >= 60
    full, combined = _combined(p, s, new, r.assignments)
    assert validate(full, combined) == []
    old = s.by_op()
    for a in combined.assignments:
        if a.job_id != "new":
            assert (a.machine_id, a.start, a.end) == (
                old[a.op_id].machine_id,
                old[a.op_id].start,
                old[a.op_id].end,
            )


def test_bad_new_order_gets_diagnostics_not_a_promise() -> None:
    p = Problem((chain("a", [{"m": 5}]),), machines("m"))
    r = promise(p, Schedule((Assignment("a.0", "a", "m", 0, 5),)), chain("n", [{"m": 0}]))
    assert not r.ok and r.completion is None
    assert r.diagnostics[0].code == "non_positive_duration"
    assert r.diagnostics[0].op_ids == ("n.0",)
