"""The planner and operator path over HTTP (Flask test client): board, propose, Gantt data,
KPIs, approve, release, station buttons through the MES intake, bed-clear rule, reports."""

from __future__ import annotations

import uuid

import pytest
from floor_helpers import MakeFloor
from sqlalchemy import func, select

from orders.lifecycle import Status
from orders.models import (
    Assignment,
    Event,
    Machine,
    MachineState,
    Operation,
    OrderLine,
    Role,
    Schedule,
)


def test_planner_proposes_sees_gantt_kpis_and_releases(make_floor: MakeFloor, backend: str) -> None:
    floor = make_floor(backend)
    oid = floor.place(2)
    planner = floor.login(Role.PLANNER)
    board = planner.client.get("/planner/").get_data(as_text=True)
    assert f'id="order-{oid}"' in board and 'data-state="cad_ready"' in board
    assert f'id="order-{oid}"' in planner.client.get("/planner/board?state=cad_ready").get_data(
        as_text=True
    )
    assert f'id="order-{oid}"' not in planner.client.get("/planner/board?state=shipped").get_data(
        as_text=True
    )

    resp = planner.post(
        "/planner/propose", {"objective": "due_dates", "time_limit_s": "3", "horizon_days": "14"}
    )
    assert resp.status_code == 302
    page_url = resp.headers["Location"]
    page = planner.client.get(page_url).get_data(as_text=True)
    assert 'id="gantt"' in page and 'id="kpis"' in page and 'id="approve"' in page
    sid = int(page_url.rstrip("/").rsplit("/", 1)[1])
    data = planner.client.get(f"/planner/schedules/{sid}/gantt.json")
    assert data.status_code == 200 and data.headers["ETag"]
    items = data.json["items"]
    ops = [i for i in items if i["kind"] == "op"]
    assert ops and all(i["order_id"] == oid and i["colour"].startswith("hsl") for i in ops)
    assert any(i["kind"] == "down" for i in items), "calendar windows are drawn"
    again = planner.client.get(
        f"/planner/schedules/{sid}/gantt.json", headers={"If-None-Match": data.headers["ETag"]}
    )
    assert again.status_code == 304

    cards = planner.client.get("/planner/board.json").json["columns"]
    assert [c["order_id"] for c in cards["cad_ready"]] == [oid]
    assert planner.post(f"/planner/schedules/{sid}/approve").status_code == 302
    assert planner.post(f"/planner/schedules/{sid}/release").status_code == 302
    with floor.ctx.db.sessions() as s:
        assert s.get_one(Schedule, sid).state.value == "released"
    assert planner.client.get("/planner/reports").status_code == 200
    csv = planner.client.get("/planner/reports.csv").get_data(as_text=True)
    assert csv.startswith("report,label,value,unit") and "utilisation" in csv


def test_operator_buttons_go_through_intake_and_are_idempotent(
    make_floor: MakeFloor, backend: str
) -> None:
    floor = make_floor(backend)
    oid = floor.place(3)
    floor.release_plan()
    job, machine, op_id = floor.first_job()
    op = floor.login(Role.OPERATOR, station=machine)
    station = op.client.get(f"/operator/station/{machine}").get_data(as_text=True)
    assert job in station
    assert op.client.get(f"/operator/job/{job}").status_code == 200
    traveler = op.client.get(f"/operator/job/{job}/traveler").get_data(as_text=True)
    assert "<svg" in traveler and f"/operator/job/{job}" in traveler

    ev = uuid.uuid4().hex
    first = op.post_json(f"/operator/job/{job}/start", {"event_id": ev})
    second = op.post_json(f"/operator/job/{job}/start", {"event_id": ev})
    assert first.status_code == 200 and first.json["code"] == "applied"
    assert second.status_code == 200 and second.json["code"] == "duplicate"
    with floor.ctx.db.sessions() as s:
        started = s.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.entity_type == "floor_event", Event.to_state == "started")
        )
        assert started == 1
        assert s.get_one(Operation, op_id).status.value == "running"
    assert (
        op.post_json(f"/operator/job/{job}/complete", {"event_id": uuid.uuid4().hex}).json["code"]
        == "applied"
    )
    scrap = op.post_json(
        f"/operator/job/{job}/scrap",
        {"event_id": uuid.uuid4().hex, "qty": "1", "reason": "warped corner"},
    )
    assert scrap.status_code == 200, scrap.json
    with floor.ctx.db.sessions() as s:
        remakes = s.scalars(
            select(OrderLine).where(
                OrderLine.order_id == oid, OrderLine.parent_line_id.is_not(None)
            )
        ).all()
        assert [r.quantity for r in remakes] == [1] and remakes[0].status == Status.CAD_READY
    too_many = op.post_json(
        f"/operator/job/{job}/scrap", {"event_id": uuid.uuid4().hex, "qty": "99", "reason": "x"}
    )
    assert too_many.status_code == 409 and too_many.json["error"]["code"] == "out_of_order"
    html = op.post(f"/operator/job/{job}/start", {"event_id": uuid.uuid4().hex})
    assert html.status_code == 303


@pytest.mark.slow  # two designs built and planned
def test_bed_clear_is_required_before_the_next_print(make_floor: MakeFloor) -> None:
    floor = make_floor()
    with floor.ctx.db.transaction() as s:  # one printer up, so both prints queue on it
        for m in s.scalars(
            select(Machine).where(Machine.process == "fdm", Machine.id != "fdm-mk4-01")
        ):
            m.state = MachineState.DOWN
    floor.place(1, colour="white")
    floor.place(1, colour="black")  # another colour: not batched onto the same plate
    floor.release_plan()
    admin = floor.login(Role.ADMIN)
    with floor.ctx.db.sessions() as s:
        plan = s.scalars(select(Schedule).where(Schedule.state == "released")).one()
        prints = s.scalars(
            select(Assignment.operation_id)
            .join(Operation, Operation.id == Assignment.operation_id)
            .where(
                Assignment.schedule_id == plan.id,
                Operation.process == "fdm",
                Assignment.machine_id == "fdm-mk4-01",
            )
            .order_by(Assignment.start)
        ).all()
        version = plan.version
    assert len(prints) == 2 and len(set(prints)) == 2, prints
    ja, jb = (f"JO-{op}-v{version}" for op in prints)
    for kind in ("start", "complete"):
        assert (
            admin.post_json(
                f"/operator/job/{ja}/{kind}", {"event_id": uuid.uuid4().hex}
            ).status_code
            == 200
        )
    blocked = admin.post_json(f"/operator/job/{jb}/start", {"event_id": uuid.uuid4().hex})
    assert blocked.status_code == 409, (blocked.json, ja, jb)
    assert blocked.json["error"]["code"] == "bed_not_clear", (blocked.json, ja, jb)
    page = admin.client.get("/operator/station/fdm-mk4-01").get_data(as_text=True)
    assert 'id="bed-clear"' in page
    half = admin.post("/operator/station/fdm-mk4-01/bed-clear", {"check": ["bed clear"]})
    assert half.status_code == 303
    assert (
        admin.post_json(f"/operator/job/{jb}/start", {"event_id": uuid.uuid4().hex}).status_code
        == 409
    )
    ok = admin.post(
        "/operator/station/fdm-mk4-01/bed-clear", {"check": ["bed clear", "last print passed QC"]}
    )
    assert ok.status_code == 303
    assert 'id="bed-clear"' not in admin.client.get("/operator/station/fdm-mk4-01").get_data(
        as_text=True
    )
    started = admin.post_json(f"/operator/job/{jb}/start", {"event_id": uuid.uuid4().hex})
    assert started.status_code == 200 and started.json["code"] == "applied"


def test_a_batched_plate_is_one_job_with_a_bed_map_and_per_line_scrap(
    make_floor: MakeFloor,
) -> None:
    floor = make_floor()
    with floor.ctx.db.transaction() as s:  # one printer up, same colour: the parts share a plate
        for m in s.scalars(
            select(Machine).where(Machine.process == "fdm", Machine.id != "fdm-mk4-01")
        ):
            m.state = MachineState.DOWN
    first, second = floor.place(1), floor.place(1)
    sid, version = floor.release_plan()
    planner = floor.login(Role.PLANNER)
    assert 'id="plates"' in planner.client.get(f"/planner/schedules/{sid}").get_data(as_text=True)
    with floor.ctx.db.sessions() as s:
        members = s.scalars(
            select(Assignment)
            .where(Assignment.schedule_id == sid, Assignment.plate_key.is_not(None))
            .order_by(Assignment.operation_id)
        ).all()
        assert len(members) == 2, "the two prints were batched"
        lead, other = (f"JO-{a.operation_id}-v{version}" for a in members)
        other_op = members[1].operation_id
    op = floor.login(Role.OPERATOR, station="fdm-mk4-01")
    station = op.client.get("/operator/station/fdm-mk4-01").get_data(as_text=True)
    assert "plate of 2 lines" in station and f'id="job-{lead}"' in station
    assert f'id="job-{other}"' not in station
    job = op.client.get(f"/operator/job/{other}").get_data(as_text=True)  # a member opens the plate
    assert f'<h1 id="job-title"><bdi>{lead}</bdi></h1>' in job and 'id="bed-layout"' in job
    assert job.count("<rect") >= 3  # the bed and two parts
    assert (
        op.post_json(f"/operator/job/{lead}/start", {"event_id": uuid.uuid4().hex}).status_code
        == 200
    )
    with floor.ctx.db.sessions() as s:
        statuses = {s.get_one(Operation, a.operation_id).status.value for a in members}
        assert statuses == {"running"}, "a plate starts as one job"
    scrap = op.post_json(
        f"/operator/job/{lead}/scrap",
        {"event_id": uuid.uuid4().hex, "qty": "1", "reason": "spaghetti", "member": other},
    )
    assert scrap.status_code == 200, scrap.json
    with floor.ctx.db.sessions() as s:
        assert s.get_one(Operation, other_op).scrapped_qty == 1
        remake = s.scalars(select(OrderLine).where(OrderLine.parent_line_id.is_not(None))).one()
        assert remake.order_id == second and remake.order_id != first
