"""CP-SAT solve on small instances with known optima; every schedule is validated."""

from __future__ import annotations

import pytest
from sched_helpers import BENCH, assert_valid, chain, machines, needs_bench, op, setup_matrix

from scheduler.cpsat.objective import ObjectiveSpec
from scheduler.formats import read_fjs, read_fjs_sdst, read_jssp
from scheduler.generate import realistic_shop
from scheduler.problem import FrozenAssignment, Job, Problem, Window
from scheduler.schedule import Status
from scheduler.solve import solve


def _one_machine_setup_problem(initial: str | None = None) -> Problem:
    """Three 5-minute ops A, B, A on one machine; A<->B changeovers cost 10."""
    from scheduler.problem import Machine

    jobs = (chain("a1", [{"m": 5}], "A"), chain("b", [{"m": 5}], "B"), chain("a2", [{"m": 5}], "A"))
    setups = {"m": setup_matrix("m", {("A", "B"): 10, ("B", "A"): 10})}
    return Problem(jobs, (Machine("m", (), initial),), setups)


def test_setups_group_families_for_the_known_optimum() -> None:
    p = _one_machine_setup_problem()
    r = solve(p, "makespan", time_limit_s=10)
    assert r.status is Status.OPTIMAL
    assert_valid(p, r)
    assert r.kpis.makespan == 25  # A A B: 5 + 5 + 10 + 5
    assert (r.kpis.setups_count, r.kpis.setup_minutes) == (1, 10)


def test_initial_family_changes_the_best_sequence() -> None:
    p = _one_machine_setup_problem(initial="B")
    r = solve(p, "makespan", time_limit_s=10)
    assert_valid(p, r)
    assert r.kpis.makespan == 25  # B first (no setup), then A A
    order = [a.op_id for a in r.schedule.by_machine()["m"]]
    assert order[0] == "b.0"


def test_total_setup_objective_counts_the_initial_changeover() -> None:
    p = _one_machine_setup_problem(initial="B")
    r = solve(p, "setup_time", time_limit_s=10)
    assert r.status is Status.OPTIMAL and r.objective_value == 10
    assert_valid(p, r)


def test_calendar_window_pushes_an_operation_past_maintenance() -> None:
    ms = machines("m", m=[Window(5, 20, "maintenance")])
    p = Problem((chain("a", [{"m": 10}]), chain("b", [{"m": 5}])), ms)
    r = solve(p, time_limit_s=10)
    assert r.status is Status.OPTIMAL
    assert_valid(p, r)
    assert r.kpis.makespan == 30
    assert r.schedule.by_op()["b.0"].start == 0


def test_frozen_operation_stays_and_others_flow_around_it() -> None:
    frozen = op("f.0", "f", {"m": 4, "n": 4}, frozen=FrozenAssignment("m", 7))
    p = Problem((Job("f", (frozen,)), chain("a", [{"m": 10}])), machines("m", "n"))
    r = solve(p, time_limit_s=10)
    assert_valid(p, r)
    assert r.schedule.by_op()["f.0"].start == 7
    assert r.schedule.by_op()["f.0"].machine_id == "m"
    assert r.kpis.makespan == 21  # a cannot fit in [0,7): it runs after f


def test_release_and_now_are_respected() -> None:
    p = Problem((chain("a", [{"m": 3}], release=50), chain("b", [{"m": 3}])), machines("m"), now=20)
    r = solve(p, time_limit_s=10)
    assert_valid(p, r)
    assert r.schedule.by_op()["a.0"].start == 50
    assert r.schedule.by_op()["b.0"].start == 20


def test_weighted_tardiness_prefers_the_heavy_job() -> None:
    jobs = (
        chain("light", [{"m": 10}], due=10, weight=1),
        chain("heavy", [{"m": 10}], due=10, weight=5),
    )
    p = Problem(jobs, machines("m"))
    r = solve(p, "weighted_tardiness", time_limit_s=10)
    assert r.status is Status.OPTIMAL
    assert_valid(p, r)
    assert r.kpis.weighted_tardiness == 10 and r.schedule.by_op()["heavy.0"].start == 0
    assert r.kpis.on_time_pct == 50.0


def test_lexicographic_keeps_first_objective_optimal() -> None:
    # two machines; tardiness first, then makespan
    jobs = (
        chain("a", [{"m": 5, "n": 9}], due=5),
        chain("b", [{"m": 5, "n": 6}], due=20),
        chain("c", [{"m": 5}], due=15),
    )
    p = Problem(jobs, machines("m", "n"))
    lex = solve(p, ObjectiveSpec(lexicographic=("weighted_tardiness", "makespan")), 10)
    assert_valid(p, lex)
    assert lex.status is Status.OPTIMAL
    assert lex.kpis.weighted_tardiness == 0
    assert lex.kpis.makespan == 10
    assert solve(p, "lex:weighted_tardiness,makespan", 10).kpis.makespan == 10


def test_flexible_choice_uses_the_faster_machine_when_free() -> None:
    p = Problem((chain("a", [{"slow": 9, "fast": 3}]),), machines("slow", "fast"))
    r = solve(p, time_limit_s=5)
    assert_valid(p, r)
    assert r.schedule.by_op()["a.0"].machine_id == "fast"
    assert r.kpis.utilisation["fast"] == 1.0


def test_infeasible_is_a_status_not_an_exception() -> None:
    p = Problem((chain("a", [{"m": 10}]), chain("b", [{"m": 10}])), machines("m"), horizon=15)
    r = solve(p, time_limit_s=10)
    assert r.status is Status.INFEASIBLE
    assert r.schedule is None
    assert any(d.code == "infeasible" for d in r.diagnostics)
    assert "No plan can exist" in r.message


def test_unknown_when_time_runs_out_without_a_plan() -> None:
    p = realistic_shop(500, 12, seed=5)
    r = solve(p, "weighted_tardiness", time_limit_s=0.01, warm_start=False)
    assert r.status is Status.UNKNOWN
    assert r.schedule is None
    assert "No plan found within the time limit" in r.message
    # with the warm start the dispatch plan is returned instead, and is valid
    r2 = solve(p, "weighted_tardiness", time_limit_s=0.01, warm_start=True)
    assert r2.status is Status.FEASIBLE
    assert any(d.code == "dispatch_fallback" for d in r2.diagnostics)
    assert_valid(p, r2)


def test_generated_shop_solves_and_beats_or_matches_dispatch() -> None:
    from scheduler.dispatch import dispatch
    from scheduler.validate import compute_kpis

    p = realistic_shop(120, 10, seed=2, load=1.2)
    base = compute_kpis(p, dispatch(p, "atc")).weighted_tardiness
    r = solve(p, "weighted_tardiness", time_limit_s=10)
    assert r.status.has_solution
    assert_valid(p, r)
    assert r.kpis.weighted_tardiness <= base
    fallback = any(d.code == "dispatch_fallback" for d in r.diagnostics)
    assert fallback or r.lower_bound <= r.objective_value == r.kpis.weighted_tardiness


@needs_bench
def test_ft06_is_proven_optimal_at_55() -> None:
    p = read_jssp(BENCH / "jssp" / "ft06.txt")
    r = solve(p, time_limit_s=30)
    assert r.status is Status.OPTIMAL
    assert_valid(p, r)
    assert r.kpis.makespan == 55 and r.lower_bound == 55 and r.gap == 0


@needs_bench
def test_mk01_is_proven_optimal_at_40() -> None:
    p = read_fjs(BENCH / "fjsp" / "brandimarte" / "mk01.fjs")
    r = solve(p, time_limit_s=30)
    assert r.status is Status.OPTIMAL
    assert_valid(p, r)
    assert r.kpis.makespan == 40


@pytest.mark.slow  # a benchmark instance at its time limit
@needs_bench
def test_sdst_instance_schedule_respects_every_setup() -> None:
    p = read_fjs_sdst(BENCH / "fjsp_sdst" / "BrandimarteMk1.fjs")
    r = solve(p, time_limit_s=10)
    assert r.status.has_solution
    assert_valid(p, r)
    assert r.kpis.setups_count > 0
    # the solver must not report a makespan below its own proven bound (None: dispatch fallback
    # on a very loaded machine)
    assert r.lower_bound is None or r.lower_bound <= r.kpis.makespan


def test_hard_deadline_is_enforced_by_the_model() -> None:
    jobs = (
        chain("a", [{"m": 10}], due=100),
        chain("b", [{"m": 10}], due=0, weight=9),
        Job("c", (op("c.0", "c", {"m": 10}),), deadline=10),
    )
    p = Problem(jobs, machines("m"))
    r = solve(p, "weighted_tardiness", time_limit_s=10)
    assert r.status is Status.OPTIMAL
    assert_valid(p, r)
    assert r.schedule.by_op()["c.0"].start == 0  # despite b's heavy weight
    assert r.kpis.weighted_tardiness == 9 * 20


def test_big_shop_goes_through_the_window_lns_and_never_worsens_dispatch() -> None:
    from scheduler.cpsat.objective import ObjectiveSpec
    from scheduler.solve import best_dispatch
    from scheduler.validate import compute_kpis

    p = realistic_shop(650, 12, seed=8, load=1.2)
    base = compute_kpis(p, best_dispatch(p, ObjectiveSpec.parse("weighted_tardiness")))
    r = solve(p, "weighted_tardiness", time_limit_s=6)
    assert r.status is Status.FEASIBLE
    assert_valid(p, r)
    assert any(d.code == "lns" for d in r.diagnostics)
    assert r.kpis.weighted_tardiness <= base.weighted_tardiness
    assert r.objective_value == r.kpis.weighted_tardiness


def test_work_running_since_before_now_is_planned_around() -> None:
    """Seen in the soak: every proposal made while work was running came back INFEASIBLE. A
    print started 30 minutes ago has a frozen start of -30; a pack started (on the floor) before
    its QC, and a running op whose machine's initial family needs a changeover, are facts the
    plan keeps, not contradictions. The new work is planned from now, around them."""
    from scheduler.problem import Machine, Operation

    qc = op("l1.qc", "l1", {"qc": 10}, frozen=FrozenAssignment("qc", -2, running=True))
    pack = op(
        "l1.pack", "l1", {"pack": 6}, frozen=FrozenAssignment("pack", -3, running=True)
    )  # started first
    running = op(
        "p.print", "p", {"m": 60}, "PLA-red", frozen=FrozenAssignment("m", -30, running=True)
    )
    later = Operation("q.print", "q", {"m": 20}, "PLA-red")
    jobs = (Job("l1", (qc, pack)), Job("p", (running,)), Job("q", (later,), due=100))
    setups = {"m": setup_matrix("m", {("PLA-blue", "PLA-red"): 15})}
    machines_ = (Machine("qc", ()), Machine("pack", ()), Machine("m", (), "PLA-blue"))
    p = Problem(jobs, machines_, setups)
    r = solve(p, "weighted_tardiness", time_limit_s=10)
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE), r.diagnostics
    assert_valid(p, r)
    at = {a.op_id: a for a in r.schedule.assignments}
    assert (at["p.print"].start, at["l1.pack"].start) == (-30, -3)
    assert at["q.print"].start >= at["p.print"].end  # after the running print, same family
    # a planner's pin is not running work: it still waits for its route and its changeover
    pinned = op("l2.pack", "l2", {"pack": 6}, frozen=FrozenAssignment("pack", 0))
    before = op("l2.qc", "l2", {"qc": 10})
    strict = Problem((Job("l2", (before, pinned)),), machines_[:2], {})
    assert solve(strict, "makespan", time_limit_s=5).status is Status.INFEASIBLE
