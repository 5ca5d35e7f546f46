"""From placed orders to a released plan: the scheduler problem built from rows, propose,
approve (exactly one winner per base version) and release, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from factories import make_configuration, make_shop, make_user

from orders.commands.artifacts import request_build
from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planning import approve, request_plan
from orders.commands.release import release
from orders.context import AppContext
from orders.errors import StaleVersion
from orders.lifecycle import Status
from orders.models import Operation, OperationStatus, Order, Schedule, ScheduleState
from orders.queries.planning_problem import build_problem
from scheduler.validate import validate

PLANNER = Actor("planner")


def _orders_ready_for_planning(ctx: AppContext, n: int = 3) -> list[int]:
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s).id
        ids = [
            place_order(
                s, user.id, [LineRequest(cfg, q, tier)], f"k{q}", Actor("c", user.id), "PKR"
            ).order.id
            for q, tier in zip(range(1, n + 1), ("express", "standard", "economy"), strict=False)
        ]
    request_build(ctx, cfg)
    return ids


def test_problem_from_rows_is_valid_and_solvable(ctx: AppContext) -> None:
    _orders_ready_for_planning(ctx)
    from datetime import UTC, datetime

    with ctx.db.sessions() as s:
        pp = build_problem(s, datetime.now(UTC), horizon_days=14)
    assert len(pp.problem.jobs) == 3
    weights = sorted(j.weight for j in pp.problem.jobs)
    assert weights == [1, 2, 4]
    staffed = pp.problem.machine_index()["qc-01"].calendar
    assert staffed, "the QC station works shifts, so it has off-shift windows"
    from scheduler.dispatch import dispatch

    assert validate(pp.problem, dispatch(pp.problem)) == []


def test_propose_approve_release(ctx: AppContext) -> None:
    order_ids = _orders_ready_for_planning(ctx)
    sid = request_plan(ctx, "due_dates", 5, 14, PLANNER)
    with ctx.db.transaction() as s:
        row = s.get_one(Schedule, sid)
        assert row.solver_status in ("OPTIMAL", "FEASIBLE"), row.kpis
        assert row.assignments and {"proposal", "baseline"} <= set(row.kpis)
        approve(s, sid, PLANNER)
        release(s, sid, PLANNER)
    with ctx.db.sessions() as s:
        assert s.get_one(Schedule, sid).state == ScheduleState.RELEASED
        for oid in order_ids:
            order = s.get_one(Order, oid)
            assert order.status == Status.RELEASED
            assert all(ln.status == Status.RELEASED for ln in order.lines)
        statuses = {op.status for op in s.query(Operation)}
        assert statuses == {OperationStatus.RELEASED}
    # a new proposal is planned on v1; approving an old-base proposal afterwards is stale
    second = request_plan(ctx, "makespan", 3, 14, PLANNER)
    with ctx.db.sessions() as s:
        assert s.get_one(Schedule, second).base_version == s.get_one(Schedule, sid).version


def test_two_planners_approving_at_once_exactly_one_wins(ctx: AppContext) -> None:
    _orders_ready_for_planning(ctx, 2)
    a = request_plan(ctx, "due_dates", 3, 14, PLANNER)
    b = request_plan(ctx, "makespan", 3, 14, PLANNER)
    outcomes: dict[int, str] = {}
    barrier = threading.Barrier(2)

    def try_approve(sid: int) -> None:
        barrier.wait()
        try:
            with ctx.db.transaction() as s:
                approve(s, sid, PLANNER)
            outcomes[sid] = "approved"
        except StaleVersion as exc:
            outcomes[sid] = f"stale: {exc}"
        except Exception as exc:  # noqa: BLE001 - SQLite may refuse the second writer outright
            outcomes[sid] = f"error: {exc.__class__.__name__}"

    threads = [threading.Thread(target=try_approve, args=(sid,)) for sid in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(v.split(":")[0] for v in outcomes.values())[0] == "approved"
    assert list(outcomes.values()).count("approved") == 1, outcomes
    loser = next(v for v in outcomes.values() if v != "approved")
    if ctx.db.engine.dialect.name == "postgresql":
        assert loser.startswith("stale:") and "approved first" in loser
    with ctx.db.sessions() as s:
        states = sorted(s.get_one(Schedule, i).state.value for i in (a, b))
    assert states == ["approved", "proposed"]
    with pytest.raises(StaleVersion), ctx.db.transaction() as s:
        approve(s, a if outcomes[a] != "approved" else b, PLANNER)
