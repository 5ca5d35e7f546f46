"""Shipping desk and cancel over HTTP (issue 14): forms with CSRF, plain words on the tracked
order page, the delivery note for customer and staff, and refusals as 4xx naming the field or
the rule (never a 500)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from factories import make_configuration
from floor_helpers import Floor, MakeFloor, Staff
from shared_helpers import pdf_text
from sqlalchemy import select

from mes_bridge.intake import StatusEvent
from mes_bridge.job_order_ids import job_order_id
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.ordering import LineRequest, place_order
from orders.lifecycle import Status
from orders.models import Operation, Order, OrderLine, Role


def order_for(floor: Floor, customer: Staff) -> int:
    with floor.ctx.db.transaction() as s:
        cfg = make_configuration(s)
        return place_order(
            s,
            customer.user_id,
            [LineRequest(cfg.id, 2)],
            uuid.uuid4().hex,
            Actor(customer.email, customer.user_id),
            "PKR",
        ).order.id


def floor_event(floor: Floor, op_id: int, version: int, kind: str) -> None:
    ev = StatusEvent(
        job_order_id=job_order_id(op_id, version),
        kind=kind,
        at=datetime.now(UTC),
        event_id=uuid.uuid4().hex,
        source="button",
    )
    with floor.ctx.db.transaction() as s:
        apply_event(s, ev, Actor("operator"))


def operations(floor: Floor, order_id: int) -> list[int]:
    with floor.ctx.db.sessions() as s:
        return list(
            s.scalars(
                select(Operation.id)
                .join(OrderLine, OrderLine.id == Operation.order_line_id)
                .where(OrderLine.order_id == order_id)
                .order_by(Operation.order_line_id, Operation.seq)
            )
        )


def status_of(floor: Floor, order_id: int) -> Status:
    with floor.ctx.db.sessions() as s:
        return s.get_one(Order, order_id).status


def page(who: Staff, url: str) -> str:
    resp = who.client.get(url)
    assert resp.status_code == 200, (url, resp.status_code)
    return resp.get_data(as_text=True)


def test_customer_cancels_before_production_and_not_after(make_floor: MakeFloor) -> None:
    floor = make_floor()
    alice, bob = floor.login(Role.CUSTOMER), floor.login(Role.CUSTOMER)
    oid = order_for(floor, alice)
    html = page(alice, f"/orders/{oid}")
    assert 'id="cancel-order"' in html and "We received your order" in html
    assert alice.client.post(f"/orders/{oid}/cancel", data={}).status_code == 400  # no CSRF
    assert bob.post(f"/orders/{oid}/cancel").status_code == 404  # not his order
    resp = alice.post(f"/orders/{oid}/cancel", {"reason": "ordered the wrong size"})
    assert resp.status_code == 302 and status_of(floor, oid) == Status.CANCELLED
    html = page(alice, f"/orders/{oid}")
    assert "You cancelled this order: ordered the wrong size" in html
    assert "Cancelled: ordered the wrong size" in html and 'id="cancel-order"' not in html
    assert alice.post(f"/orders/{oid}/cancel").status_code == 302  # a double click: no change
    # once the work is on the floor the customer is told the rule, with a 422
    later = order_for(floor, alice)
    floor.release_plan()
    assert status_of(floor, later) == Status.RELEASED
    html = page(alice, f"/orders/{later}")
    assert 'id="cancel-order"' not in html
    assert "Your parts are planned on our machines" in html
    resp = alice.post(f"/orders/{later}/cancel")
    assert resp.status_code == 422
    assert "customers may cancel until the work is sent to the shop floor" in resp.get_data(
        as_text=True
    )
    assert status_of(floor, later) == Status.RELEASED


def test_ship_deliver_and_delivery_note_for_customer_and_staff(make_floor: MakeFloor) -> None:
    floor = make_floor()
    alice, bob = floor.login(Role.CUSTOMER), floor.login(Role.CUSTOMER)
    planner = floor.login(Role.PLANNER)
    oid = order_for(floor, alice)
    _, version = floor.release_plan()
    first = operations(floor, oid)[0]
    floor_event(floor, first, version, "started")
    assert "We are making your part" in page(alice, f"/orders/{oid}")
    for op in operations(floor, oid):
        for kind in ("started", "completed"):
            floor_event(floor, op, version, kind)
    assert status_of(floor, oid) == Status.COMPLETED
    desk = page(planner, "/planner/shipping")
    assert f'id="ready-{oid}"' in desk
    bad = [
        ({"order_id": str(oid), "carrier": "", "tracking_number": "123456"}, "carrier"),
        ({"order_id": str(oid), "carrier": "TCS", "tracking_number": ""}, "tracking_number"),
        ({"order_id": "x1", "carrier": "TCS", "tracking_number": "123456"}, "order_id"),
        ({"order_id": "99999999999", "carrier": "TCS", "tracking_number": "1234"}, "order_id"),
    ]
    for data, field in bad:
        resp = planner.post("/planner/shipping/ship", data)
        assert resp.status_code == 422, (data, resp.status_code)
        assert f"<code>{field}</code>" in resp.get_data(as_text=True)
    json_resp = planner.post_json("/planner/shipping/ship", {"order_id": str(oid)})
    assert json_resp.status_code == 422 and "carrier" in json_resp.json["error"]["fields"]
    resp = planner.post(
        "/planner/shipping/ship",
        {"order_id": str(oid), "carrier": "TCS", "tracking_number": "123"},
    )
    assert resp.status_code == 302 and status_of(floor, oid) == Status.SHIPPED
    again = planner.post(
        "/planner/shipping/ship",
        {"order_id": str(oid), "carrier": "TCS", "tracking_number": "123"},
    )
    assert again.status_code == 409 and "already shipped" in again.get_data(as_text=True)
    html = page(alice, f"/orders/{oid}")
    assert "Shipped with TCS, tracking 123" in html and 'id="delivery-note"' in html
    api = alice.client.get(f"/api/orders/{oid}").json
    assert api["status_text"] == "Shipped with TCS, tracking 123"
    note = alice.client.get(f"/orders/{oid}/delivery-note.pdf")
    assert note.status_code == 200 and note.mimetype == "application/pdf"
    assert "Tracking number: 123" in pdf_text(note.data)
    assert f"order #{oid}" in pdf_text(note.data)
    assert bob.client.get(f"/orders/{oid}/delivery-note.pdf").status_code == 404
    staff_note = planner.client.get(f"/planner/shipping/delivery-note?order={oid}")
    assert staff_note.status_code == 200 and staff_note.data == note.data
    assert planner.client.get("/planner/shipping/delivery-note?order=abc").status_code == 422
    assert f'id="transit-{oid}"' in page(planner, "/planner/shipping")
    resp = planner.post("/planner/shipping/deliver", {"order_id": str(oid)})
    assert resp.status_code == 302 and status_of(floor, oid) == Status.DELIVERED
    assert planner.post("/planner/shipping/deliver", {"order_id": str(oid)}).status_code == 409
    html = page(alice, f"/orders/{oid}")
    assert "Delivered (sent with TCS, tracking 123)" in html
    assert alice.client.get("/planner/shipping").status_code == 404  # staff only


@pytest.mark.parametrize(
    "data,field",
    [
        ({"reason_kind": "payment", "reason": "card declined"}, "order_id"),
        ({"order_id": "{oid}", "reason": "card declined"}, "reason_kind"),
        ({"order_id": "{oid}", "reason_kind": "1", "reason": "x"}, "reason_kind"),
        ({"order_id": "{oid}", "reason_kind": "payment", "reason": "  "}, "reason"),
    ],
)
def test_staff_cancel_needs_order_kind_and_reason(
    make_floor: MakeFloor, data: dict[str, str], field: str
) -> None:
    floor = make_floor()
    alice, planner = floor.login(Role.CUSTOMER), floor.login(Role.PLANNER)
    oid = order_for(floor, alice)
    sent = {k: v.format(oid=oid) for k, v in data.items()}
    resp = planner.post("/planner/orders/cancel", sent)
    assert resp.status_code == 422 and f"<code>{field}</code>" in resp.get_data(as_text=True)
    assert status_of(floor, oid) != Status.CANCELLED


def test_staff_cancel_during_production_proposes_a_replan(make_floor: MakeFloor) -> None:
    floor = make_floor()
    alice, planner = floor.login(Role.CUSTOMER), floor.login(Role.PLANNER)
    oid = order_for(floor, alice)
    _, version = floor.release_plan()
    floor_event(floor, operations(floor, oid)[0], version, "started")
    assert status_of(floor, oid) == Status.IN_PRODUCTION
    resp = planner.post(
        "/planner/orders/cancel",
        {"order_id": str(oid), "reason_kind": "customer_request", "reason": "phoned us"},
    )
    assert resp.status_code == 302 and "/planner/schedules/" in resp.headers["Location"]
    assert status_of(floor, oid) == Status.CANCELLED
    html = page(alice, f"/orders/{oid}")
    assert "We cancelled this order: the customer asked: phoned us" in html
