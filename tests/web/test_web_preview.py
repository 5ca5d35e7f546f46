"""The 3D preview through the API: a real CAD build (in-process), its GLB served by artifact id."""

from __future__ import annotations

import time

from webshop_helpers import ENCLOSURE, MakeShop, shop_fixture  # noqa: F401  (the make_shop fixture)


def test_preview_builds_and_serves_the_glb_and_then_prices_measured(make_shop: MakeShop) -> None:
    shop = make_shop()
    alice = shop.shopper()
    anon = shop.app.test_client()
    assert anon.get("/catalogue/enclosure/thumbnail.svg").status_code == 302  # category icon
    config_id = shop.save_design(alice, ENCLOSURE)  # the family's default design
    assert alice.api("GET", f"/api/configurations/{config_id}/preview").json["state"] == "none"
    resp = alice.api("POST", f"/api/configurations/{config_id}/preview")
    assert resp.status_code == 202
    deadline = time.monotonic() + 120
    while resp.json["state"] in ("queued", "building"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
        resp = alice.api("GET", f"/api/configurations/{config_id}/preview")
    body = resp.json
    assert body["state"] == "ready", body
    assert body["preview_url"] == f"/files/{body['preview_artifact_id']}"
    assert all(f["severity"] in ("required", "advisory") for f in body["findings"])
    glb = alice.client.get(body["preview_url"])
    assert glb.status_code == 200 and glb.data[:4] == b"glTF"
    assert glb.mimetype == "model/gltf-binary"
    again = alice.api("POST", f"/api/configurations/{config_id}/preview")
    assert again.json["state"] == "ready"  # cached: no second build
    quote = alice.api("POST", "/api/quote", {"family": "enclosure", "params": ENCLOSURE})
    assert quote.json["source"] == "measured"
    thumb = anon.get("/catalogue/enclosure/thumbnail.svg")
    assert thumb.status_code == 200 and thumb.mimetype == "image/svg+xml"
    assert thumb.data.startswith(b"<svg") and thumb.data.count(b"<polygon") > 50
