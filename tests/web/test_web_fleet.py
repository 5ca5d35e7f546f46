"""The fleet board over HTTP: planners and operators see it, customers get 404 and anonymous
visitors the sign-in page; the JSON carries the poller's rows with an ETag; an operator gets
the station actions for their own printers only; the refresh script is served from here."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from webshop_helpers import PASSWORD, WebShop, csrf_of, shop_fixture  # noqa: F401  (make_shop)

from orders.commands.accounts import create_user
from orders.models import (
    PrinterConnection,
    PrinterJobState,
    PrinterStatusRow,
    Role,
)


@pytest.fixture
def shop(make_shop: Any) -> WebShop:
    shop: WebShop = make_shop("sqlite")
    now = datetime.now(UTC)
    with shop.ctx.db.transaction() as s:
        s.add(
            PrinterStatusRow(
                machine_id="fdm-mk4-01",
                connection=PrinterConnection.CONNECTED,
                job_state=PrinterJobState.RUNNING,
                job_id="JO-5-v2",
                progress=0.425,
                eta_s=1260,
                nozzle_c=215,
                bed_c=60,
                material="PETG",
                last_error="thermal runaway (cleared)",
                changed_at=now,
                read_at=now,
            )
        )
    return shop


def operator_at(shop: WebShop, station: str) -> Any:
    email = f"op-{station}@example.com"
    with shop.ctx.db.transaction() as s:
        create_user(s, email, PASSWORD, Role.OPERATOR, "op", station)
    client = shop.app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD})
    assert resp.status_code == 302
    return client


def test_planner_sees_the_board_and_its_json(shop: WebShop) -> None:
    planner = shop.shopper(Role.PLANNER).client
    page = planner.get("/planner/fleet").get_data(as_text=True)
    row = re.search(r'<tr id="printer-fdm-mk4-01".*?</tr>', page, re.S)
    assert row is not None, page[:2000]
    for shown in ("Running · connected", "JO-5-v2", "42.5 %", "215 °C", "21 min", "printer: PETG"):
        assert shown in row.group(0), shown
    assert "thermal runaway (cleared)" in row.group(0)
    assert 'id="printer-fdm-mk4-02"' in page and "no live status" in page  # MQTT: no status
    assert "Confirm plate clear" not in page  # a planner drives no station
    assert 'src="/static/planner/fleet.js"' in page and 'href="/planner/fleet"' in page

    resp = planner.get("/planner/fleet.json")
    assert resp.status_code == 200 and resp.headers["ETag"].startswith('W/"')
    printers = {p["machine_id"]: p for p in resp.json["printers"]}
    mk4 = printers["fdm-mk4-01"]
    assert (mk4["job_state"], mk4["progress"], mk4["nozzle_c"]) == ("Running", 0.425, 215)
    assert mk4["live"] and not mk4["stale"] and not mk4["may_act"]
    assert not printers["fdm-mk4-02"]["live"]
    again = planner.get("/planner/fleet.json", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_operator_gets_actions_for_their_own_printer_only(shop: WebShop) -> None:
    operator = operator_at(shop, "fdm-mk4-01")
    page = operator.get("/planner/fleet").get_data(as_text=True)
    mine = re.search(r'<tr id="printer-fdm-mk4-01".*?</tr>', page, re.S)
    other = re.search(r'<tr id="printer-fdm-mk4-02".*?</tr>', page, re.S)
    assert mine is not None and other is not None
    assert 'href="/operator/station/fdm-mk4-01"' in mine.group(0)
    assert 'action="/operator/station/fdm-mk4-01/bed-clear"' in mine.group(0)
    assert "hidden" in mine.group(0)  # no print finished: the confirmation waits, hidden
    assert "/operator/station" not in other.group(0)
    printers = {p["machine_id"]: p for p in operator.get("/planner/fleet.json").json["printers"]}
    assert printers["fdm-mk4-01"]["may_act"] and not printers["fdm-mk4-02"]["may_act"]


def test_customers_and_visitors_are_kept_out(shop: WebShop) -> None:
    customer = shop.shopper(Role.CUSTOMER).client
    for url in ("/planner/fleet", "/planner/fleet.json"):
        assert customer.get(url).status_code == 404
        anon = shop.app.test_client().get(url)
        assert anon.status_code in (302, 401) and "/login" in anon.headers.get("Location", "/login")


def test_refresh_script_is_local_and_polls_every_second(shop: WebShop) -> None:
    resp = shop.app.test_client().get("/static/planner/fleet.js")
    js = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "javascript" in resp.headers["Content-Type"]
    assert "fetch(url" in js and "INTERVAL = 1000" in js and "If-None-Match" in js
    assert "http://" not in js and "https://" not in js and "import " not in js
