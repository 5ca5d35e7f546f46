"""The planner's stock page over HTTP: receive spools (a double submit counts once), load and
unload on a printer, weigh in, low-stock alerts at the top; refusals are 4xx naming the field;
customers get 404 and anonymous visitors the sign-in page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from webshop_helpers import WebShop, csrf_of, shop_fixture  # noqa: F401  (the make_shop fixture)

from orders.models import Role, StockItem


@pytest.fixture
def shop(make_shop: Any) -> WebShop:
    return make_shop("sqlite")


def items(shop: WebShop) -> list[StockItem]:
    with shop.ctx.db.sessions() as s:
        rows = s.query(StockItem).order_by(StockItem.id).all()
        s.expunge_all()
        return rows


def test_planner_receives_loads_weighs_in_and_sees_alerts(shop: WebShop) -> None:
    planner = shop.shopper(Role.PLANNER)
    page = planner.client.get("/planner/stock").get_data(as_text=True)
    assert "No stock recorded yet" in page and csrf_of(page)
    key = re.search(r'id="receive-spools".*?name="idempotency_key" value="([0-9a-f]+)"', page, re.S)
    assert key is not None
    form = {
        "kind": "spool",
        "material": "petg",
        "colour": "orange",
        "grams": "100",
        "count": "2",
        "location": "rack B",
        "idempotency_key": key.group(1),
    }
    for _ in range(2):  # a double submit receives once
        assert planner.post_form("/planner/stock/receive", form).status_code == 303
    a, b = items(shop)
    assert (a.material_id, a.colour, a.grams_left, len(items(shop))) == ("petg", "orange", 100, 2)
    refusals = [
        ({"colour": "plaid"}, "colour"),
        ({"grams": "-1"}, "grams"),
        ({"grams": "a lot"}, "grams"),
        ({"material": "cheese"}, "material"),
        ({"count": "1.5"}, "count"),
    ]
    for change, field in refusals:
        resp = planner.post_form("/planner/stock/receive", form | {"idempotency_key": "x"} | change)
        assert resp.status_code == 422, (change, resp.status_code)
        assert field in resp.get_data(as_text=True), change
    load = planner.post_form("/planner/stock/load", {"item_id": a.id, "machine_id": "fdm-mk4-03"})
    assert load.status_code == 303
    assert (
        planner.post_form(
            "/planner/stock/load", {"item_id": a.id, "machine_id": "resin-01"}
        ).status_code
        == 422
    )
    assert (
        planner.post_form(
            "/planner/stock/load", {"item_id": "abc", "machine_id": "fdm-mk4-03"}
        ).status_code
        == 422
    )
    assert (
        planner.post_form(
            "/planner/stock/load", {"item_id": 10**6, "machine_id": "fdm-mk4-03"}
        ).status_code
        == 404
    )
    weigh = {"item_id": b.id, "measured_g": "330", "idempotency_key": "scale"}
    for _ in range(2):
        assert planner.post_form("/planner/stock/adjust", weigh).status_code == 303
    bad = planner.post_form(
        "/planner/stock/adjust", weigh | {"measured_g": "-3", "idempotency_key": "n"}
    )
    assert bad.status_code == 422 and "measured_g" in bad.get_data(as_text=True)
    assert [(i.machine_id, i.grams_left) for i in items(shop)] == [("fdm-mk4-03", 100), (None, 80)]
    page = planner.client.get("/planner/stock").get_data(as_text=True)
    alert = re.search(
        r'data-level="low" data-material="petg" data-colour="orange".*?</p>', page, re.S
    )
    assert alert and 'class="reorder">1<' in alert.group(0)
    assert page.index("stock-alerts") < page.index("stock-items")
    unload = planner.post_form("/planner/stock/unload", {"item_id": a.id, "location": "dry box"})
    assert unload.status_code == 303 and items(shop)[0].machine_id is None


def test_only_planners_and_admins_reach_the_stock_page(shop: WebShop) -> None:
    assert shop.shopper(Role.ADMIN).client.get("/planner/stock").status_code == 200
    customer = shop.shopper()
    assert customer.client.get("/planner/stock").status_code == 404
    form = {"kind": "spool", "material": "pla", "colour": "red", "grams": "1000"}
    assert (
        customer.post_form("/planner/stock/receive", form | {"idempotency_key": "c"}).status_code
        == 404
    )
    anonymous = shop.app.test_client().get("/planner/stock")
    assert anonymous.status_code in (302, 303) and "/login" in anonymous.headers["Location"]
    assert items(shop) == []
