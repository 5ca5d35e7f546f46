"""Pages read money and time the shop's way (issue 15, local formats): "Rs 1,234.56" with
grouping, every time in shop time (Asia/Karachi, labelled PKT), a typed time taken as shop time,
and the API still in ISO-8601 UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from floor_helpers import MakeFloor
from sqlalchemy import select

from orders.models import CalendarWindow, Order, Role

RUPEES = re.compile(r"Rs\u00a0\d{1,3}(,\d{3})*\.\d{2}")


def test_the_orders_page_shows_rupees_and_shop_time(make_floor: MakeFloor) -> None:
    floor = make_floor()
    oid = floor.place(3)
    with floor.ctx.db.sessions() as s:
        order = s.get_one(Order, oid)
        customer, total, placed = order.customer_id, order.total, order.created_at
    admin = floor.login(Role.ADMIN)  # the admin reaches every order page
    page = admin.client.get(f"/orders/{oid}").get_data(as_text=True)
    assert RUPEES.search(page), page[:2000]
    assert f"PKR {total}" not in page
    api = admin.client.get(f"/api/orders/{oid}").json
    assert api["currency"] == "PKR" and re.fullmatch(r"\d+\.\d{2}", str(api["total"]))
    assert customer and placed.tzinfo is not None


def test_maintenance_is_typed_and_shown_in_shop_time(make_floor: MakeFloor) -> None:
    floor = make_floor()
    planner = floor.login(Role.PLANNER)
    resp = planner.post(
        "/planner/machines/cnc-01/maintenance",
        {"start": "2030-01-02T10:00", "end": "2030-01-02T12:00", "note": "spindle"},
    )
    assert resp.status_code == 302
    with floor.ctx.db.sessions() as s:
        window = s.scalars(select(CalendarWindow).where(CalendarWindow.note == "spindle")).one()
    assert window.start == datetime(2030, 1, 2, 5, 0, tzinfo=UTC)  # 10:00 in Karachi
    page = planner.client.get("/planner/machines").get_data(as_text=True)
    assert "2030-01-02 10:00 → 2030-01-02 12:00" in page and "Windows (PKT)" in page
