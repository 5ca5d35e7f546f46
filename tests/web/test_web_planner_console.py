"""Planner console details: held orders show their reasons, pins feed the next solve, reports
count what the floor did, and the live endpoints answer 304 until something changes."""

from __future__ import annotations

import csv
import io
import uuid

from floor_helpers import MakeFloor
from sqlalchemy import select

from orders.commands.audit import Actor, transition
from orders.lifecycle import Status
from orders.models import Assignment, Operation, Order, OrderLine, Role, Schedule


def test_held_orders_show_their_reasons_and_the_board_filters(make_floor: MakeFloor) -> None:
    floor = make_floor()
    held, other = floor.place(1), floor.place(1)
    with floor.ctx.db.transaction() as s:
        line = s.scalars(select(OrderLine).where(OrderLine.order_id == held)).one()
        transition(s, line, Status.ON_HOLD, Actor("cad"), reason="DFM: wall 0.4 mm below 0.8 mm")
        transition(s, s.get_one(Order, held), Status.ON_HOLD, Actor("cad"), reason="CAD failure")
    planner = floor.login(Role.PLANNER)
    page = planner.client.get("/planner/?state=on_hold").get_data(as_text=True)
    assert f'id="order-{held}"' in page and f'id="order-{other}"' not in page
    assert "CAD failure" in page and "DFM: wall 0.4 mm below 0.8 mm" in page
    with floor.ctx.db.sessions() as s:
        email = s.get_one(Order, other).customer_id
    found = planner.client.get(f"/planner/?q={other}").get_data(as_text=True)
    assert f'id="order-{other}"' in found and f'id="order-{held}"' not in found
    assert email


def test_live_fragments_answer_304_until_an_event_arrives(make_floor: MakeFloor) -> None:
    floor = make_floor()
    floor.place(1)
    floor.release_plan()
    job, machine, _ = floor.first_job()
    planner = floor.login(Role.PLANNER)
    operator = floor.login(Role.OPERATOR, station=machine)
    board = planner.client.get("/planner/board")
    station = operator.client.get(f"/operator/station/{machine}/live")
    for client, url, resp in (
        (planner, "/planner/board", board),
        (operator, f"/operator/station/{machine}/live", station),
    ):
        same = client.client.get(url, headers={"If-None-Match": resp.headers["ETag"]})
        assert same.status_code == 304
    operator.post_json(f"/operator/job/{job}/start", {"event_id": uuid.uuid4().hex})
    changed = planner.client.get("/planner/board", headers={"If-None-Match": board.headers["ETag"]})
    assert changed.status_code == 200 and 'data-status="in_production"' in changed.get_data(
        as_text=True
    )
    live = operator.client.get(
        f"/operator/station/{machine}/live", headers={"If-None-Match": station.headers["ETag"]}
    )
    assert live.status_code == 200 and 'data-status="running"' in live.get_data(as_text=True)


def test_pin_then_resolve_freezes_the_operation(make_floor: MakeFloor) -> None:
    floor = make_floor()
    floor.place(1)
    floor.release_plan()
    with floor.ctx.db.sessions() as s:
        op = s.scalars(select(Operation).where(Operation.process == "fdm")).first()
        assert op is not None
        target = sorted(op.eligible)[-1]
        op_id = op.id
    planner = floor.login(Role.PLANNER)
    bad = planner.post_json("/planner/pin", {"operation_id": str(op_id), "machine_id": "cnc-01"})
    assert bad.status_code == 422 and "machine_id" in bad.json["error"]["fields"]
    resp = planner.post(
        "/planner/pin",
        {
            "operation_id": str(op_id),
            "machine_id": target,
            "start": "",
            "resolve": "1",
            "objective": "makespan",
            "time_limit_s": "3",
            "horizon_days": "14",
        },
    )
    assert resp.status_code == 302 and "/planner/schedules/" in resp.headers["Location"]
    with floor.ctx.db.sessions() as s:
        newest = s.scalars(select(Schedule).order_by(Schedule.version.desc())).first()
        assert newest is not None and newest.state.value == "proposed"
        pinned = s.scalars(
            select(Assignment).where(
                Assignment.schedule_id == newest.id, Assignment.operation_id == op_id
            )
        ).one()
        assert pinned.machine_id == target and pinned.frozen
        assert s.get_one(Operation, op_id).pinned_machine_id == target


def test_reports_count_floor_work_and_export_csv(make_floor: MakeFloor) -> None:
    floor = make_floor()
    floor.place(2)
    floor.release_plan()
    job, machine, _ = floor.first_job()
    admin = floor.login(Role.ADMIN)
    for action, extra in (("start", {}), ("scrap", {"qty": "1", "reason": "stringing"})):
        resp = admin.post_json(
            f"/operator/job/{job}/{action}", {"event_id": uuid.uuid4().hex, **extra}
        )
        assert resp.status_code == 200, resp.json
    page = admin.client.get("/planner/reports").get_data(as_text=True)
    for key in ("on_time", "throughput", "utilisation", "setup_hours", "scrap_rate", "lead_time"):
        assert f'id="report-{key}"' in page
    assert page.count("<svg") >= 6
    rows = list(
        csv.DictReader(
            io.StringIO(admin.client.get("/planner/reports.csv?days=7").get_data(as_text=True))
        )
    )
    scrap = {r["label"]: float(r["value"]) for r in rows if r["report"] == "scrap_rate"}
    assert scrap["fdm"] == 50.0, scrap
    util = {r["label"]: float(r["value"]) for r in rows if r["report"] == "utilisation"}
    assert set(util) >= {machine, "cnc-01"} and util["cnc-01"] == 0.0
    assert len([r for r in rows if r["report"] == "throughput"]) == 7
