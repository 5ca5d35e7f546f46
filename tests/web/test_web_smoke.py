"""Smoke path through the test client: design, quote, save, cart, checkout, track."""

from __future__ import annotations

from webshop_helpers import ENCLOSURE, MakeShop, shop_fixture  # noqa: F401  (the make_shop fixture)


def test_customer_goes_from_quote_to_tracked_order(make_shop: MakeShop) -> None:
    shop = make_shop()
    alice = shop.shopper()
    resp = alice.api(
        "POST",
        "/api/quote",
        {"family": "enclosure", "params": ENCLOSURE, "quantity": 3, "tier": "standard"},
    )
    assert resp.status_code == 200, resp.json
    assert resp.json["source"] == "analytic" and resp.json["orderable"] is True
    page = alice.client.get("/shop/enclosure")
    assert page.status_code == 200
    form = {
        "action": "add",
        "quantity": "3",
        "tier": "standard",
        "family": "enclosure",
        **{k: str(v) for k, v in ENCLOSURE.items()},
    }
    resp = alice.post_form("/shop/enclosure", form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    cart = alice.client.get("/cart").get_data(as_text=True)
    assert "enclosure" in cart
    import re

    from webshop_helpers import csrf_of

    key = re.search(r'name="idempotency_key" value="([^"]+)"', cart).group(1)  # type: ignore[union-attr]
    resp = alice.post_form("/checkout", {"idempotency_key": key})
    assert resp.status_code == 302
    order_url = resp.headers["Location"]
    page = alice.client.get(order_url).get_data(as_text=True)
    assert "is confirmed" in page and "Placed" in page
    assert csrf_of(page)
