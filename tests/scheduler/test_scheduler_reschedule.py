"""Rescheduling from now: started work frozen, moves reported, stability respected."""

from __future__ import annotations

from sched_helpers import chain, machines

from scheduler.problem import Problem
from scheduler.reschedule import freeze_started, reschedule, with_breakdown, with_job
from scheduler.schedule import Status
from scheduler.solve import solve
from scheduler.validate import validate


def _plan() -> tuple[Problem, object]:
    jobs = tuple(
        chain(f"j{k}", [{"m1": 10, "m2": 12}, {"q": 3}], due=40 + 10 * k) for k in range(4)
    )
    p = Problem(jobs, machines("m1", "m2", "q"))
    r = solve(p, "weighted_tardiness", time_limit_s=5)
    assert r.status.has_solution and validate(p, r.schedule) == []
    return p, r.schedule


def test_nothing_happened_nothing_moves() -> None:
    p, s = _plan()
    rr = reschedule(p, s, now=5, time_limit_s=5)
    assert rr.result.status.has_solution
    assert validate(rr.problem, rr.result.schedule) == []
    assert rr.moves == ()
    assert all(v == 0 for v in rr.kpi_delta.values())


def test_breakdown_moves_work_off_the_broken_machine_and_keeps_started_work() -> None:
    p, s = _plan()
    now = 2
    started = {a.op_id for a in s.assignments if a.start < now}
    broken = with_breakdown(p, "m1", 2, 200)
    rr = reschedule(broken, s, now=now, time_limit_s=5)
    assert rr.result.status.has_solution
    new = rr.result.schedule
    assert validate(rr.problem, new) == []
    old = s.by_op()
    for oid in started:
        if old[oid].machine_id != "m1":  # ops on m1 crossing the breakdown restart elsewhere
            assert new.by_op()[oid] == old[oid]
    assert all(not (a.machine_id == "m1" and a.end > 2) for a in new.assignments)
    moved = {m.op_id for m in rr.moves}
    assert moved and all(
        m.old_machine != m.new_machine or m.old_start != m.new_start for m in rr.moves
    )
    assert any(old[o].machine_id == "m1" for o in moved)
    assert "makespan" in rr.kpi_delta


def test_rush_order_is_inserted_and_reported() -> None:
    p, s = _plan()
    rush = chain("rush", [{"m1": 5, "m2": 5}, {"q": 1}], due=8, weight=50)
    rr = reschedule(with_job(p, rush), s, now=1, time_limit_s=5)
    new = rr.result.schedule
    assert rr.result.status.has_solution and validate(rr.problem, new) == []
    # m1 and m2 are busy with started work until 10 and 12: rush runs [10,15) then q [15,16)
    assert new.by_op()["rush.1"].end == 16


def test_late_and_scrapped_operations() -> None:
    p, s = _plan()
    first = min(s.assignments, key=lambda a: (a.start, a.op_id))
    late_end = first.end + 7
    rr = reschedule(p, s, now=first.end + 1, late={first.op_id: late_end}, time_limit_s=5)
    new = rr.result.schedule.by_op()
    assert new[first.op_id].end == late_end and new[first.op_id].start == first.start
    assert validate(rr.problem, rr.result.schedule) == []
    scrap = reschedule(p, s, now=first.end + 1, scrapped={first.op_id}, time_limit_s=5)
    redo = scrap.result.schedule.by_op()[first.op_id]
    assert redo.start >= first.end + 1  # redone from now
    assert validate(scrap.problem, scrap.result.schedule) == []


def test_freeze_started_freezes_only_the_past() -> None:
    p, s = _plan()
    fp = freeze_started(p, s, 5)
    frozen = {o.id for o in fp.operations if o.frozen}
    assert frozen == {a.op_id for a in s.assignments if a.start < 5}
    assert fp.now == 5
    assert solve(fp, time_limit_s=2).status is not Status.MODEL_INVALID
