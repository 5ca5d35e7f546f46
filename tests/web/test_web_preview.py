"""The 3D preview through the API: a real CAD build (in-process), its GLB served by artifact id."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from webshop_helpers import ENCLOSURE, MakeShop, shop_fixture  # noqa: F401  (the make_shop fixture)

from cad import pipeline


@pytest.mark.slow  # a real CAD build
def test_preview_builds_and_serves_the_glb_and_then_prices_measured(
    make_shop: MakeShop, tmp_path: Path
) -> None:
    shop = make_shop(artifact_dir=tmp_path / "artifacts")  # a real build, not a cache hit
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


@pytest.fixture(name="held_exports")
def held_exports_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Hold every CAD job at the start of its heavy exports (STEP/STL/3MF; analysis and G-code
    come after) until the test sets the event; the real exports then run. Nothing is mocked:
    this only fixes the order of events, so tests can check what is visible mid-job."""
    gate = threading.Event()
    real = pipeline._export_all

    def held(*args: object) -> None:
        assert gate.wait(timeout=120), "the test never released the held CAD job"
        real(*args)

    monkeypatch.setattr(pipeline, "_export_all", held)
    yield gate
    gate.set()  # never leave the in-process job thread blocked for later tests


@pytest.mark.slow  # a real CAD build
def test_the_preview_is_served_while_the_rest_of_the_job_still_runs(
    make_shop: MakeShop, held_exports: threading.Event, tmp_path: Path
) -> None:
    shop = make_shop(artifact_dir=tmp_path / "artifacts")  # a real build, not a cache hit
    alice = shop.shopper()
    config_id = shop.save_design(alice, ENCLOSURE | {"inner_length": 85})
    url = f"/api/configurations/{config_id}/preview"
    resp = alice.api("POST", url)
    deadline = time.monotonic() + 120
    while resp.json["preview_artifact_id"] is None:
        assert resp.json["state"] in ("queued", "building"), resp.json
        assert time.monotonic() < deadline
        time.sleep(0.2)
        resp = alice.api("GET", url)
    early = resp.json
    assert not held_exports.is_set()  # the job is still before its STEP export
    assert (
        early["state"] == "building"
        and early["preview_url"] == f"/files/{early['preview_artifact_id']}"
    )
    assert early["findings"] == [] and early["metrics"] is None  # these come with the finished job
    glb = alice.client.get(early["preview_url"])
    assert glb.status_code == 200 and glb.data[:4] == b"glTF"
    held_exports.set()
    while resp.json["state"] in ("queued", "building"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
        resp = alice.api("GET", url)
    assert resp.json["state"] == "ready", resp.json
    assert resp.json["preview_artifact_id"] == early["preview_artifact_id"]
    assert resp.json["metrics"]["volume_mm3"] > 0
