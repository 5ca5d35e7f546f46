"""The 3D preview through the API: a real CAD build (in-process), its GLB served by artifact id."""

from __future__ import annotations

import time

from webshop_helpers import ENCLOSURE, MakeShop


def test_preview_builds_and_serves_the_glb_and_then_prices_measured(make_shop: MakeShop) -> None:
    shop = make_shop()
    alice = shop.shopper()
    config_id = shop.save_design(alice, ENCLOSURE | {"inner_height": 31})
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
    quote = alice.api("POST", "/api/quote", {"family": "enclosure",
                                             "params": ENCLOSURE | {"inner_height": 31}})  # fmt: skip
    assert quote.json["source"] == "measured"
