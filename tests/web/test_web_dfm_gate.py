"""A design that cannot be made gets no price, no date and no order.

Two ways to be unmakeable: no machine fits it (feasibility), or CAD measured a Required DFM
finding on it (stored with its artifacts). Either way the quote JSON keeps its keys but nulls
price and date with `makeable: false` and the reasons, the configurator page disables
"Add to cart" and says why, and `POST /api/orders` is answered 422 naming the finding.
"""

from __future__ import annotations

from typing import Any

from webshop_helpers import ENCLOSURE, MakeShop, WebShop, shop_fixture  # noqa: F401

from orders.models import Artifact

TOO_BIG = ENCLOSURE | {"inner_length": 250, "process": "resin", "material": "resin"}
THIN = {
    "code": "THIN_WALL",
    "severity": "required",
    "measured": 0.62,
    "threshold": 0.8,
    "location": [1.0, 2.0, 3.0],
    "hint": "The machine cannot make walls under 0.8 mm; thicken the part here.",
    "unit": "mm",
}


def _form(params: dict[str, Any], action: str = "quote") -> dict[str, str]:
    return {"action": action, "quantity": "1", "tier": "standard"} | {
        k: str(v) for k, v in params.items()
    }


def _measured(shop: WebShop, config_id: int, *findings: dict[str, Any]) -> None:
    """What the CAD job records: the STEP artifact's summary carries the findings."""
    with shop.ctx.db.transaction() as s:
        s.add(
            Artifact(
                configuration_id=config_id,
                kind="step",
                path=f"x/{config_id}.step",
                sha256="0" * 64,
                bytes=1,
                builder_version="test",
                meta={"findings": list(findings)},
            )
        )


def test_a_design_no_machine_fits_has_no_price_or_date(make_shop: MakeShop) -> None:
    client = make_shop().app.test_client()
    q = client.post("/api/quote", json={"family": "enclosure", "params": TOO_BIG}).get_json()
    assert q["makeable"] is False and q["orderable"] is False
    assert q["total"] is None and q["unit_price"] is None and q["lines"] == []
    assert q["promise"]["ok"] is False and q["promise"]["ship_date"] is None
    assert q["reasons"] and q["reasons"][0]["source"] == "feasibility"
    assert "does not fit" in q["reasons"][0]["message"]
    assert {"currency", "quantity", "tier", "feasibility", "source"} <= set(q)
    ok = client.post("/api/quote", json={"family": "enclosure", "params": ENCLOSURE}).get_json()
    assert ok["makeable"] is True and ok["reasons"] == [] and ok["total"] is not None


def test_the_configurator_page_shows_no_price_and_disables_ordering(make_shop: MakeShop) -> None:
    alice = make_shop().shopper()
    html = alice.post_form("/shop/enclosure", _form(TOO_BIG)).get_data(as_text=True)
    assert 'id="quote-total"' not in html and 'id="ship-date"' not in html
    assert "cannot be made here" in html and "does not fit" in html
    assert 'id="add-to-cart" disabled' in html
    assert 'id="add-blocked" role="status" >Cannot be ordered:' in html


def test_a_required_dfm_finding_blocks_quote_page_and_order(make_shop: MakeShop) -> None:
    shop = make_shop()
    alice = shop.shopper()
    config_id = shop.save_design(alice)
    _measured(shop, config_id, THIN)

    q = alice.api("POST", "/api/quote", {"family": "enclosure", "params": ENCLOSURE}).get_json()
    assert q["makeable"] is False and q["total"] is None and q["promise"]["ship_date"] is None
    [reason] = q["reasons"]
    assert reason["source"] == "dfm" and reason["code"] == "THIN_WALL"
    assert "cannot make walls under 0.8 mm" in reason["message"]

    page = alice.post_form("/shop/enclosure", _form(ENCLOSURE, "add"))
    html = page.get_data(as_text=True)
    assert page.status_code == 422 and 'id="add-to-cart" disabled' in html
    assert "THIN_WALL" in html and "cannot make walls under 0.8 mm" in html

    resp = alice.api(
        "POST",
        "/api/orders",
        {"lines": [{"configuration_id": config_id}], "idempotency_key": "thin"},
    )
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "not_makeable"
    assert "THIN_WALL" in err["message"] and "cannot make walls under 0.8 mm" in err["message"]
    assert "THIN_WALL" in err["fields"]["lines[0]"]
    assert alice.api("GET", "/api/orders").get_json()["orders"] == []


def test_an_advisory_finding_does_not_block(make_shop: MakeShop) -> None:
    shop = make_shop()
    alice = shop.shopper()
    config_id = shop.save_design(alice)
    _measured(shop, config_id, THIN | {"severity": "advisory"})
    resp = alice.api(
        "POST",
        "/api/orders",
        {"lines": [{"configuration_id": config_id}], "idempotency_key": "fine"},
    )
    assert resp.status_code == 201, resp.get_json()
