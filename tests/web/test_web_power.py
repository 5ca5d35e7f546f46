"""The planner's load-shedding page over HTTP: type in an outage, import the utility's ICS file,
report power lost and back, remove an outage; refusals are 4xx naming the field; customers get
404 and operators 403."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from webshop_helpers import WebShop, shop_fixture  # noqa: F401  (the make_shop fixture)

from orders.models import PowerOutage, Role, Schedule

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//LESCO//EN\r\nBEGIN:VEVENT\r\nUID:noon\r\n"
    b"SUMMARY:Noon block\r\nDTSTART:20310507T120000\r\nDTEND:20310507T140000\r\n"
    b"RRULE:FREQ=DAILY;COUNT=2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def shop(make_shop: Any, request: pytest.FixtureRequest) -> WebShop:
    return make_shop(request.param)


def outages(shop: WebShop) -> list[tuple[str, datetime, str]]:
    with shop.ctx.db.sessions() as s:
        rows = s.query(PowerOutage).order_by(PowerOutage.start_at).all()
        return [(o.feeder, o.start_at, o.source.value) for o in rows]


def test_planner_types_in_imports_reports_and_removes_outages(shop: WebShop) -> None:
    planner = shop.shopper(Role.PLANNER)
    page = planner.client.get("/planner/power").get_data(as_text=True)
    assert "none announced" in page and "fdm-xl-01" in page and "grid only" in page
    assert "ups-printers (ups, 1.0 kW, 45 min)" in page
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    form = {"feeder": "main", "start": f"{day}T12:00", "end": f"{day}T14:00", "note": "SMS"}
    for _ in range(2):  # a double submit adds one outage
        assert planner.post_form("/planner/power/outages", form).status_code == 303
    assert [o[2] for o in outages(shop)] == ["manual"]
    assert outages(shop)[0][1].hour == 7  # 12:00 in Karachi
    for change, field in (({"end": f"{day}T11:00"}, "end"), ({"feeder": "mars"}, "feeder")):
        resp = planner.post_form("/planner/power/outages", form | change)
        assert resp.status_code == 422 and field in resp.get_data(as_text=True), change
    upload = {"feeder": "main", "file": (io.BytesIO(ICS), "lesco.ics")}
    done = planner.post_form("/planner/power/import", upload, follow_redirects=True)
    assert "2 added, 0 updated, 0 unchanged" in done.get_data(as_text=True)
    bad = planner.post_form(
        "/planner/power/import", {"feeder": "main", "file": (io.BytesIO(b"hello"), "x.ics")}
    )
    assert bad.status_code == 422 and "file" in bad.get_data(as_text=True)
    assert planner.post_form("/planner/power/import", {"feeder": "main"}).status_code == 422
    page = planner.client.get("/planner/power").get_data(as_text=True)
    assert "SMS" in page and "manual" in page  # the 2031 blocks are beyond the two weeks shown
    lost = planner.post_form("/planner/power/main/lost", {"event_id": "press-1"})
    assert lost.status_code == 303
    again = planner.post_form("/planner/power/main/lost", {"event_id": "press-1"})
    assert again.status_code == 303  # the same press: applied once
    assert "power still out" in planner.client.get("/planner/power").get_data(as_text=True)
    with shop.ctx.db.sessions() as s:
        assert s.query(Schedule).count() == 1 and "power lost on main" in (
            s.query(Schedule).one().note or ""
        )
    assert planner.post_form("/planner/power/main/back", {"event_id": "b1"}).status_code == 303
    assert planner.post_form("/planner/power/mars/lost", {}).status_code == 404
    first = re.search(r"/planner/power/outages/(\d+)/remove", page)
    assert first is not None
    url = f"/planner/power/outages/{first.group(1)}/remove"
    assert planner.post_form(url, {}).status_code == 303
    assert planner.post_form(url, {}).status_code == 404


def test_only_planners_reach_the_power_desk(shop: WebShop) -> None:
    assert shop.shopper(Role.CUSTOMER).client.get("/planner/power").status_code == 404
    assert shop.shopper(Role.OPERATOR).client.get("/planner/power").status_code == 403


def test_the_gantt_shows_load_shedding_on_the_machines_it_stops(shop: WebShop) -> None:
    from orders.commands.audit import Actor
    from orders.commands.outages import add_outage
    from orders.queries.planner_board import schedule_gantt

    planner = shop.shopper(Role.PLANNER)
    start = datetime.now(UTC) + timedelta(hours=3)
    with shop.ctx.db.transaction() as s:
        add_outage(s, "main", start, start + timedelta(hours=2), Actor("t"))
        schedule = Schedule(objective="makespan", solver_status="OPTIMAL", version=1)
        s.add(schedule)
        s.flush()
        sid = schedule.id
    assert planner.client.get("/planner/power").status_code == 200
    with shop.ctx.db.sessions() as s:
        items = schedule_gantt(s, sid)["items"]
    shed = {i["group"] for i in items if i["kind"] == "down" and i["label"] == "load-shedding"}
    assert "fdm-xl-01" in shed and "fdm-mk4-01" in shed and "cnc-01" not in shed
