"""Permissions and concurrency: customers get 404 on every planner and operator route, an
operator acts only on their own station, two planners approving at once → one wins, one 409."""

from __future__ import annotations

import threading

import pytest
from floor_helpers import PLANNER, MakeFloor

from orders.commands.planning import request_plan
from orders.models import Role, Schedule

STAFF_PREFIXES = ("/planner", "/operator", "/admin")


def _routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every planner/operator rule with sample arguments, so a new route is covered by default."""
    samples = {
        "schedule_id": "1",
        "machine_id": "fdm-mk4-01",
        "job_order_id": "JO-1-v1",
        "kind": "down",
        "action": "start",
        "user_id": "1",
        "outage_id": "1",
        "feeder": "main",
        "state": "lost",
    }
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(STAFF_PREFIXES):
            continue
        url = rule.rule
        for arg in rule.arguments:
            url = url.replace(f"<{arg}>", samples[arg])
            for conv in (
                "id",
                "int",
                "any(down, up)",
                "any(lost, back)",
                "any(start, pause, complete, scrap)",
            ):
                url = url.replace(f"<{conv}:{arg}>", samples[arg])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, url))
    return out


def test_customers_get_404_on_every_planner_and_operator_route(make_floor: MakeFloor) -> None:
    floor = make_floor()
    customer = floor.login(Role.CUSTOMER)
    routes = _routes(floor.app)
    assert len(routes) >= 20, routes
    for method, url in routes:
        resp = customer.client.open(url, method=method, data={"csrf_token": customer.csrf})
        assert resp.status_code == 404, (method, url, resp.status_code)
    anon = floor.app.test_client()
    assert anon.get("/planner/").status_code == 302
    operator = floor.login(Role.OPERATOR, station="fdm-mk4-01")
    assert operator.client.get("/planner/").status_code == 403
    planner = floor.login(Role.PLANNER)
    assert planner.client.get("/operator/").status_code == 403


def test_operator_acts_only_on_their_own_station(make_floor: MakeFloor) -> None:
    floor = make_floor()
    floor.place(2)
    floor.release_plan()
    job, machine, _ = floor.first_job()
    other = "fdm-mk4-03" if machine != "fdm-mk4-03" else "fdm-mk4-02"
    mine = floor.login(Role.OPERATOR, station=machine)
    stranger = floor.login(Role.OPERATOR, station=other)
    nobody = floor.login(Role.OPERATOR)
    assert (
        mine.client.get("/operator/").headers["Location"].endswith(f"/operator/station/{machine}")
    )
    for who in (stranger, nobody):
        assert who.client.get(f"/operator/station/{machine}").status_code == 404
        assert who.client.get(f"/operator/job/{job}").status_code == 404
        assert who.post_json(f"/operator/job/{job}/start", {"event_id": "e1"}).status_code == 404
        assert (
            who.post(f"/operator/station/{machine}/bed-clear", {"check": ["a", "b"]}).status_code
            == 404
        )
    assert (
        mine.post_json(f"/operator/job/{job}/start", {"event_id": "e1"}).json["code"] == "applied"
    )
    admin = floor.login(Role.ADMIN)
    assert admin.client.get(f"/operator/station/{other}").status_code == 200
    assert (
        admin.post_json(f"/operator/job/{job}/pause", {"event_id": "e2"}).json["code"] == "applied"
    )


def test_bad_input_is_refused_with_the_field(make_floor: MakeFloor) -> None:
    floor = make_floor()
    planner = floor.login(Role.PLANNER)
    bad = planner.post_json("/planner/propose", {"objective": "fastest", "time_limit_s": "3"})
    assert bad.status_code == 422 and "objective" in bad.json["error"]["fields"]
    assert (
        planner.post_json(
            "/planner/propose", {"objective": "makespan", "time_limit_s": "9999"}
        ).status_code
        == 422
    )
    assert planner.client.get("/planner/board?state=nonsense").status_code == 422
    win = planner.post_json(
        "/planner/machines/cnc-01/maintenance",
        {"start": "2030-01-02T10:00", "end": "2030-01-02T09:00"},
    )
    assert win.status_code == 422 and "end" in win.json["error"]["fields"]
    assert (
        planner.post_json(
            "/planner/machines/nope/maintenance",
            {"start": "2030-01-02T10:00", "end": "2030-01-02T11:00"},
        ).status_code
        == 404
    )
    ok = planner.post(
        "/planner/machines/cnc-01/maintenance",
        {"start": "2030-01-02T10:00", "end": "2030-01-02T12:00", "note": "spindle"},
    )
    assert ok.status_code == 302
    assert "spindle" in planner.client.get("/planner/machines").get_data(as_text=True)
    assert planner.client.get("/planner/schedules/999").status_code == 404
    assert planner.post_json("/planner/pin", {"operation_id": "x"}).status_code == 422


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_planners_approving_at_once_one_wins_other_409(
    make_floor: MakeFloor, backend: str
) -> None:
    floor = make_floor(backend)
    floor.place(2)
    a = request_plan(floor.ctx, "due_dates", 3, 14, PLANNER)
    b = request_plan(floor.ctx, "makespan", 3, 14, PLANNER)
    planners = [floor.login(Role.PLANNER), floor.login(Role.PLANNER)]
    barrier = threading.Barrier(2)
    answers: dict[int, tuple[int, dict]] = {}

    def go(who, sid: int) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        resp = who.post_json(f"/planner/schedules/{sid}/approve")
        answers[sid] = (resp.status_code, resp.json)

    threads = [
        threading.Thread(target=go, args=(p, sid)) for p, sid in zip(planners, (a, b), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    codes = sorted(code for code, _ in answers.values())
    assert codes == [200, 409], answers
    loser = next(body for code, body in answers.values() if code == 409)
    assert (
        loser["error"]["code"] == "stale_version" and "approved first" in loser["error"]["message"]
    )
    html = planners[0].post(f"/planner/schedules/{a if answers[a][0] == 409 else b}/approve")
    assert html.status_code == 409 and "approved first" in html.get_data(as_text=True)
    with floor.ctx.db.sessions() as s:
        assert sorted(s.get_one(Schedule, i).state.value for i in (a, b)) == [
            "approved",
            "proposed",
        ]
