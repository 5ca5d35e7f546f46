"""The plate-clear gate from the operator's side: the traveler's QR leads to a confirm page (GET
shows, POST confirms, anonymous refused); one failed part of a running plate is marked from the
station, scrapping and re-queuing only its order line."""

from __future__ import annotations

import pytest
from floor_helpers import Floor, MakeFloor
from sqlalchemy import select

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

PRINTER = "fdm-mk4-01"


def one_printer(floor: Floor) -> None:
    with floor.ctx.db.transaction() as s:  # one printer up, so every print queues on it
        for m in s.scalars(select(Machine).where(Machine.process == "fdm", Machine.id != PRINTER)):
            m.state = MachineState.DOWN


def prints(floor: Floor) -> tuple[int, list[Assignment]]:
    with floor.ctx.db.sessions() as s:
        plan = s.scalars(select(Schedule).where(Schedule.state == "released")).one()
        rows = s.scalars(
            select(Assignment)
            .join(Operation, Operation.id == Assignment.operation_id)
            .where(
                Assignment.schedule_id == plan.id,
                Operation.process == "fdm",
                Assignment.machine_id == PRINTER,
            )
            .order_by(Assignment.start)
        ).all()
        return plan.version, list(rows)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_travelers_qr_confirms_the_plate_clear(make_floor: MakeFloor, backend: str) -> None:
    floor = make_floor(backend)
    one_printer(floor)
    floor.place(1, colour="white")
    floor.place(1, colour="black")  # another colour: not on the same plate
    floor.release_plan()
    version, rows = prints(floor)
    ja, jb = (f"JO-{a.operation_id}-v{version}" for a in rows[:2])
    op = floor.login(Role.OPERATOR, station=PRINTER)
    for kind in ("start", "complete"):
        assert op.post_json(f"/operator/job/{ja}/{kind}", {"event_id": kind}).status_code == 200
    job_page = op.client.get(f"/operator/job/{ja}").get_data(as_text=True)  # where the QR leads
    assert 'id="plate-clear-link"' in job_page and f"/operator/job/{ja}/plate-clear" in job_page

    anon = floor.app.test_client()
    assert anon.get(f"/operator/job/{ja}/plate-clear").status_code in (302, 303)
    refused = anon.post(f"/operator/job/{ja}/plate-clear", data={"check": ["a", "b"]})
    assert refused.status_code in (302, 303, 400, 401, 403)

    page = op.client.get(f"/operator/job/{ja}/plate-clear")
    assert page.status_code == 200 and 'id="plate-clear"' in page.get_data(as_text=True)
    with floor.ctx.db.sessions() as s:  # a GET changes nothing
        assert s.scalars(select(Event).where(Event.entity_type == "bed_clear")).all() == []
    blocked = op.post_json(f"/operator/job/{jb}/start", {"event_id": "b1"})
    assert blocked.status_code == 409 and blocked.json["error"]["code"] == "bed_not_clear"
    half = op.post_json(f"/operator/job/{ja}/plate-clear", {"check": ["bed clear"]})
    assert half.status_code == 422 and "check" in half.json["error"]["message"]

    checks = {"check": ["bed clear", "last print passed QC"]}
    assert op.post(f"/operator/job/{ja}/plate-clear", checks).status_code == 303
    again = op.post_json(f"/operator/job/{ja}/plate-clear", checks)
    assert again.status_code == 200 and again.json["recorded"] is False
    with floor.ctx.db.sessions() as s:
        [clear] = s.scalars(select(Event).where(Event.entity_type == "bed_clear")).all()
        assert clear.entity_id == PRINTER and clear.payload["via"] == "qr"
    after = op.client.get(f"/operator/job/{ja}/plate-clear").get_data(as_text=True)
    assert 'id="plate-already-clear"' in after
    assert op.post_json(f"/operator/job/{jb}/start", {"event_id": "b2"}).status_code == 200

    other = floor.login(Role.OPERATOR, station="fdm-mk4-02")  # not their station: not found
    assert other.client.get(f"/operator/job/{ja}/plate-clear").status_code == 404


def test_one_failed_part_of_a_running_plate_is_marked_from_the_station(
    make_floor: MakeFloor,
) -> None:
    floor = make_floor()
    one_printer(floor)
    first, second = floor.place(1), floor.place(1)  # same colour: one plate
    floor.release_plan()
    version, rows = prints(floor)
    members = sorted(a.operation_id for a in rows if a.plate_key)
    assert len(members) == 2, "the two prints were batched"
    lead, other = (f"JO-{m}-v{version}" for m in members)
    op = floor.login(Role.OPERATOR, station=PRINTER)
    assert op.post_json(f"/operator/job/{lead}/start", {"event_id": "s1"}).status_code == 200
    station = op.client.get(f"/operator/station/{PRINTER}").get_data(as_text=True)
    assert 'class="fail-object"' in station

    missing = op.post_json(f"/operator/job/{lead}/fail-object", {"event_id": "f0"})
    assert missing.status_code == 422 and "member" in missing.json["error"]["message"]
    form = {"event_id": "f1", "member": other, "reason": "detached"}
    failed = op.post_json(f"/operator/job/{lead}/fail-object", form)
    assert failed.status_code == 200 and failed.json["code"] == "applied", failed.json
    twice = op.post_json(f"/operator/job/{lead}/fail-object", form)  # the double submit
    assert twice.status_code == 200 and twice.json["code"] == "duplicate"
    with floor.ctx.db.sessions() as s:
        remake = s.scalars(select(OrderLine).where(OrderLine.parent_line_id.is_not(None))).one()
        assert remake.order_id == second != first
        kept, gone = (s.get_one(Operation, m) for m in members)
        assert (kept.scrapped_qty, gone.scrapped_qty) == (0, gone.quantity)
    page = op.client.get(f"/operator/station/{PRINTER}").get_data(as_text=True)
    assert "object-skip" in page  # the operator sees what the printer was asked to do
    assert op.post_json(f"/operator/job/{lead}/complete", {"event_id": "c1"}).status_code == 200
    with floor.ctx.db.sessions() as s:
        assert {s.get_one(Operation, m).status.value for m in members} == {"done"}
