"""Shop pages without JS: catalogue filters, form validation, infeasible designs, checkout."""

from __future__ import annotations

import re

from webshop_helpers import ENCLOSURE, MakeShop, Shopper, shop_fixture  # noqa: F401  (the make_shop fixture)


def _form(params: dict[str, object], action: str = "quote", qty: int = 1) -> dict[str, str]:
    return {
        "action": action,
        "quantity": str(qty),
        "tier": "standard",
        **{k: str(v) for k, v in params.items()},
    }


def _checkout_key(shopper: Shopper) -> str:
    html = shopper.client.get("/cart").get_data(as_text=True)
    match = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_catalogue_filters_by_category_and_material(make_shop: MakeShop) -> None:
    client = make_shop().app.test_client()
    everything = client.get("/").get_data(as_text=True)
    assert everything.count('class="card"') >= 8
    signs = client.get("/?category=signs").get_data(as_text=True)
    assert 'data-family="nameplate"' in signs and 'data-family="enclosure"' not in signs
    alu = client.get("/?material=aluminium_6061").get_data(as_text=True)
    assert 'data-family="enclosure"' not in alu and alu.count('class="card"') >= 1
    page = client.get("/shop/enclosure").get_data(as_text=True)
    assert "Wall thickness" in page and "(mm)" in page and "Also the floor" in page
    assert client.get("/shop/teapot").status_code == 404


def test_invalid_wall_is_explained_next_to_the_field(make_shop: MakeShop) -> None:
    shop = make_shop()
    alice = shop.shopper()
    resp = alice.post_form("/shop/enclosure", _form(ENCLOSURE | {"wall": "0.1"}))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert re.search(r'data-error-for="wall" role="alert">Wall thickness 0.1 mm is outside', html)
    resp = alice.post_form("/shop/enclosure", _form(ENCLOSURE | {"wall": "2.5"}))
    assert resp.status_code == 200 and b'id="quote-total"' in resp.data
    assert b'data-source="analytic"' in resp.data and b'id="ship-date"' in resp.data


def test_infeasible_design_is_explained_and_cannot_be_added(make_shop: MakeShop) -> None:
    shop = make_shop()
    alice = shop.shopper()
    big = ENCLOSURE | {"inner_length": 250, "process": "resin", "material": "resin"}
    resp = alice.post_form("/shop/enclosure", _form(big, "add"))
    assert resp.status_code == 422 and b"cannot be made here" in resp.data
    assert b"does not fit" in resp.data
    assert b"Your cart is empty" in alice.client.get("/cart").data


def test_double_submitted_checkout_places_one_order(make_shop: MakeShop) -> None:
    shop = make_shop()
    alice = shop.shopper()
    assert alice.post_form("/shop/enclosure", _form(ENCLOSURE, "add", 2)).status_code == 302
    key = _checkout_key(alice)
    first = alice.post_form("/checkout", {"idempotency_key": key})
    second = alice.post_form("/checkout", {"idempotency_key": key})
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"].split("?")[0] == second.headers["Location"]
    assert alice.api("GET", "/api/orders").json["orders"].__len__() == 1
    page = alice.client.get(first.headers["Location"]).get_data(as_text=True)
    assert 'id="confirmation"' in page and 'data-status="placed"' in page
    assert alice.client.get("/orders").get_data(as_text=True).count("/orders/") == 1


def test_the_preview_shows_a_sign_face_on_and_other_parts_as_before(make_shop: MakeShop) -> None:
    """Engraved text is read from above: the nameplate's preview camera starts straight over
    it; other families keep model-viewer's default three-quarter view."""
    client = make_shop().app.test_client()
    sign = client.get("/shop/nameplate").get_data(as_text=True)
    assert 'camera-orbit="0deg 0deg auto"' in sign
    box = client.get("/shop/enclosure").get_data(as_text=True)
    assert 'camera-orbit="0deg 75deg 105%"' in box
