"""A proposal without a plan (infeasible, unknown, invalid) shows its status and why, never
KPIs that look like a perfect plan."""

from __future__ import annotations

from floor_helpers import MakeFloor

from orders.models import Role, Schedule


def test_an_infeasible_proposal_shows_why_and_no_kpis(make_floor: MakeFloor) -> None:
    floor = make_floor()
    why = "operation 7 (post, line 3) is pinned to post-01 at 2030-01-01 09:00 UTC but cannot"
    with floor.ctx.db.transaction() as s:
        row = Schedule(
            version=99,
            objective="due_dates",
            solver_status="INFEASIBLE",
            params={"time_limit_s": 5, "horizon_days": 14},
            kpis={
                "proposal": {"on_time_pct": 100.0, "makespan": 0},  # what a failed solve stores
                "baseline": {"on_time_pct": 100.0, "makespan": 0},
                "status_text": "no plan exists",
                "diagnostics": [{"code": "pin_not_honoured", "message": why}],
            },
        )
        s.add(row)
        s.flush()
        sid = row.id
    planner = floor.login(Role.PLANNER)
    for url in (f"/planner/schedules/{sid}", f"/planner/schedules/{sid}/panel"):
        page = planner.client.get(url).get_data(as_text=True)
        assert 'id="kpis"' not in page and "On-time" not in page
        assert "INFEASIBLE" in page and why in page
        assert 'id="no-plan"' in page
