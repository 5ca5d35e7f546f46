"""Cancel a running print from the fleet board over HTTP: the planner sees "Cancel print" beside
a running printer, posts it with a reason and a form key, and the job is scrapped and re-made
with a re-plan proposed; the board then says what the printer answered. Refusals name the
field; operators get 403 (planner routes are shop-wide); a repeat is "already cancelled"."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from floor_helpers import Floor, MakeFloor
from sqlalchemy import func, select

from mes_bridge.intake import StatusEvent
from orders.commands.floor_events import apply_event
from orders.models import Event, Operation, OperationStatus, OrderLine, Role


def running(floor: Floor) -> tuple[str, str, int]:
    """A released print started at its station: (job order id, printer, operation id)."""
    floor.place(qty=2)
    floor.release_plan()
    job, machine, op = floor.first_job("fdm")
    ev = StatusEvent(job, "started", datetime.now(UTC), uuid.uuid4().hex, "button")
    with floor.ctx.db.transaction() as s:
        assert apply_event(s, ev).ok
    return job, machine, op


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_planner_cancels_a_running_print_from_the_board(
    make_floor: MakeFloor, backend: str
) -> None:
    floor = make_floor(backend)
    job, machine, op = running(floor)
    planner = floor.login(Role.PLANNER)
    page = planner.client.get("/planner/fleet").get_data(as_text=True)
    row = re.search(rf'<tr id="printer-{machine}".*?</tr>', page, re.S)
    assert row is not None
    form = re.search(r'<form[^>]*class="cancelprint"[^>]*>.*?</form>', row.group(0), re.S)
    assert form is not None and " hidden" not in form.group(0).split(">")[0]
    shown = re.search(r'name="job_order_id" value="([^"]+)"', form.group(0))
    key = re.search(r'name="form_key" value="([^"]+)"', form.group(0))
    assert shown is not None and key is not None
    board = {p["machine_id"]: p for p in planner.client.get("/planner/fleet.json").json["printers"]}
    assert board[machine]["may_cancel"] and board[machine]["cancel_note"] == ""
    url = f"/planner/fleet/{machine}/cancel"

    no_reason = planner.post_json(url, {"job_order_id": shown.group(1), "form_key": key.group(1)})
    assert no_reason.status_code == 422 and no_reason.json["error"]["fields"] == {
        "reason": "required"
    }
    page_refusal = planner.post(url, {"reason": "x", "form_key": key.group(1)})  # a person
    assert page_refusal.status_code == 422 and "job_order_id" in page_refusal.get_data(True)
    no_job = planner.post_json(url, {"reason": "x", "form_key": key.group(1)})
    assert no_job.status_code == 422 and "job_order_id" in no_job.json["error"]["fields"]
    elsewhere = planner.post_json(
        "/planner/fleet/no-such-printer/cancel",
        {"job_order_id": shown.group(1), "reason": "x", "form_key": key.group(1)},
    )
    assert elsewhere.status_code == 404

    data = {"job_order_id": shown.group(1), "reason": "spaghetti", "form_key": key.group(1)}
    resp = planner.post(url, data)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/planner/fleet")
    assert "cancelled" in planner.client.get("/planner/fleet").get_data(as_text=True)
    again = planner.post_json(url, data)
    assert again.status_code == 200 and again.json["code"] == "duplicate"
    with floor.ctx.db.sessions() as s:
        o = s.get_one(Operation, op)
        assert o.status == OperationStatus.DONE and o.scrapped_qty == o.quantity
        remakes = s.scalar(
            select(func.count())
            .select_from(OrderLine)
            .where(OrderLine.parent_line_id == o.order_line_id)
        )
        assert remakes == 1
        assert (
            s.scalar(
                select(func.count()).select_from(Event).where(Event.to_state == "print_cancelled")
            )
            == 1
        )
    board = {p["machine_id"]: p for p in planner.client.get("/planner/fleet.json").json["printers"]}
    assert not board[machine]["may_cancel"]  # nothing runs there any more


def test_operators_are_refused_and_see_no_cancel_button(make_floor: MakeFloor) -> None:
    floor = make_floor("sqlite")
    job, machine, _ = running(floor)
    operator = floor.login(Role.OPERATOR, machine)
    page = operator.client.get("/planner/fleet").get_data(as_text=True)
    assert "Cancel print" not in page
    board = {
        p["machine_id"]: p for p in operator.client.get("/planner/fleet.json").json["printers"]
    }
    assert not board[machine]["may_cancel"]
    resp = operator.post(
        f"/planner/fleet/{machine}/cancel",
        {"job_order_id": job, "reason": "x", "form_key": "k"},
    )
    assert resp.status_code == 403


def test_board_script_keeps_a_typed_reason_and_shows_the_printer_answer(
    make_floor: MakeFloor,
) -> None:
    js = make_floor("sqlite").app.test_client().get("/static/planner/fleet.js")
    text = js.get_data(as_text=True)
    assert "form.cancelprint" in text and "p.may_cancel" in text and "cancel_note" in text
    assert "!reason.value" in text  # the job it names follows the board only until typed
