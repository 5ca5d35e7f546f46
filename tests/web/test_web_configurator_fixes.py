"""Configurator fixes (issue 14), server side: the anonymous preview (keyed by config hash,
rate-limited, no ids), the design carried through the login redirect and checked again, the
standard sizes the page fills in, and no price or date for a design that cannot be made."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select
from webshop_helpers import ENCLOSURE, PASSWORD, MakeShop, csrf_of, shop_fixture  # noqa: F401

import configurator
from configurator.families.pipe_flange import flange_table
from orders.models import ProductConfiguration
from web.shop.forms import family_detail

RESIN_TOO_BIG = ENCLOSURE | {"inner_length": 250, "process": "resin", "material": "resin"}
STRICT = {"anon_preview": (2, 300), "anon_preview_all": (3, 3600), "preview_poll": (1000, 60)}


def _hash(params: dict[str, Any], family: str = "enclosure") -> str:
    config = configurator.validate(family, params).config
    assert config is not None
    return config.config_hash


def _rows(shop: Any, digest: str | None = None) -> int:
    query = select(func.count()).select_from(ProductConfiguration)
    if digest is not None:
        query = query.where(ProductConfiguration.config_hash == digest)
    with shop.ctx.db.sessions() as s:
        return int(s.scalar(query) or 0)


def _post(client: Any, params: dict[str, Any], ip: str = "10.0.0.1") -> Any:
    return client.post(
        "/api/preview",
        json={"family": "enclosure", "params": params},
        environ_base={"REMOTE_ADDR": ip},
    )


@pytest.mark.slow  # one real CAD build (the session's artifact cache makes repeats fast)
def test_an_anonymous_visitor_gets_the_preview_by_hash_without_ids(make_shop: MakeShop) -> None:
    shop = make_shop()
    anon = shop.app.test_client()
    design = ENCLOSURE | {"inner_length": 77}
    resp = _post(anon, design)
    assert resp.status_code == 202, resp.json
    body = resp.json
    assert body["config_hash"] == _hash(design)
    assert set(body) == {
        "config_hash",
        "state",
        "progress",
        "stage",
        "preview_url",
        "findings",
        "error",
    }  # no configuration id, no artifact id, no parameters, no owner
    deadline = time.monotonic() + 120
    while body["state"] in ("queued", "building"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
        body = anon.get(f"/api/preview/{body['config_hash']}").json
    assert body["state"] == "ready", body
    assert body["preview_url"] == f"/api/preview/{_hash(design)}/model.glb"
    glb = anon.get(body["preview_url"])
    assert glb.status_code == 200 and glb.data[:4] == b"glTF"
    assert glb.mimetype == "model/gltf-binary"
    again = _post(anon, design)  # the same design: the build is reused
    assert again.status_code == 202 and again.json["state"] == "ready"
    assert _rows(shop, _hash(design)) == 1
    with shop.ctx.db.sessions() as s:
        row = s.scalars(
            select(ProductConfiguration).where(ProductConfiguration.config_hash == _hash(design))
        ).one()
        assert row.created_by_id is None  # nobody's design: no customer sees it as theirs
        row_id = row.id
    bob = shop.shopper()
    assert bob.client.get(f"/api/configurations/{row_id}").status_code == 404
    assert anon.get(f"/api/configurations/{row_id}").status_code == 401


def test_unknown_and_malformed_hashes_are_not_found(make_shop: MakeShop) -> None:
    shop = make_shop()
    anon = shop.app.test_client()
    unknown = _hash(ENCLOSURE | {"inner_length": 91})
    assert anon.get(f"/api/preview/{unknown}").json["state"] == "none"
    assert anon.get(f"/api/preview/{unknown}/model.glb").status_code == 404
    for bad in ("..%2F..%2Fetc", "ZZZZ", "a" * 200):
        assert anon.get(f"/api/preview/{bad}").status_code == 404
        assert anon.get(f"/api/preview/{bad}/model.glb").status_code == 404


def test_new_anonymous_designs_are_strictly_limited_per_visitor_and_for_everyone(
    make_shop: MakeShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    from web.api import views

    started: list[int] = []
    monkeypatch.setattr(views, "_start_build", lambda ctx, cid: started.append(cid))
    shop = make_shop(limits=STRICT)
    anon = shop.app.test_client()
    before = _rows(shop)
    assert _post(anon, ENCLOSURE | {"inner_length": 61}).status_code == 202
    assert _post(anon, ENCLOSURE | {"inner_length": 62}).status_code == 202
    third = _post(anon, ENCLOSURE | {"inner_length": 63})
    assert third.status_code == 429 and third.json["error"]["code"] == "rate_limited"
    assert "Retry-After" in third.headers
    assert _rows(shop) == before + 2  # the refused design was not stored
    # another address has its own allowance, until the shared bucket is spent
    assert _post(anon, ENCLOSURE | {"inner_length": 64}, ip="10.0.0.2").status_code == 202
    crowd = _post(anon, ENCLOSURE | {"inner_length": 65}, ip="10.0.0.3")
    assert crowd.status_code == 429
    assert _rows(shop) == before + 3 and len(started) == 3


def test_a_design_no_machine_can_make_gets_no_preview_row_or_build(make_shop: MakeShop) -> None:
    shop = make_shop()
    anon = shop.app.test_client()
    before = _rows(shop)
    resp = _post(anon, RESIN_TOO_BIG)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "not_makeable"
    assert _rows(shop) == before
    bad = _post(anon, ENCLOSURE | {"wall": "0.1"})
    assert bad.status_code == 422 and "wall" in bad.json["error"]["fields"]
    assert _rows(shop) == before


def test_the_design_survives_the_login_redirect_and_is_checked_again(make_shop: MakeShop) -> None:
    shop = make_shop()
    email = "carry@example.com"
    shop.user(email=email)
    anon = shop.app.test_client()
    token = csrf_of(anon.get("/shop/enclosure").get_data(as_text=True))
    form = {k: str(v) for k, v in (ENCLOSURE | {"wall": 3.0, "inner_length": 90}).items()}
    form |= {"csrf_token": token, "quantity": "3", "tier": "express", "action": "add"}
    resp = anon.post("/shop/enclosure", data=form)
    assert resp.status_code == 302
    login = urlsplit(resp.headers["Location"])
    assert login.path == "/login"
    back = parse_qs(login.query)["next"][0]
    carried = parse_qs(urlsplit(back).query)
    assert carried["wall"] == ["3.0"] and carried["quantity"] == ["3"]
    token = csrf_of(anon.get(resp.headers["Location"]).get_data(as_text=True))
    signed = anon.post(
        "/login", data={"csrf_token": token, "email": email, "password": PASSWORD, "next": back}
    )
    assert signed.status_code == 302 and signed.headers["Location"] == back
    html = anon.get(back).get_data(as_text=True)
    assert 'name="wall" value="3.0"' in html and 'name="inner_length" value="90"' in html
    assert re.search(r'id="qty" name="quantity"[^>]* value="3"', html)
    assert '<option value="express" selected>' in html
    # never trusted: a tampered query is validated and shown as the field's error
    bad = anon.get("/shop/enclosure?wall=0.1&inner_length=abc&nonsense=1&quantity=x")
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'data-error-for="wall" role="alert">' in page and "outside" in page
    assert "is not a number" in page and "nonsense" not in page
    assert 'class="field invalid" data-param="wall"' in page
    assert "Fix the highlighted field to update the 3D preview." in page
    long = anon.get("/shop/nameplate?text=" + "x" * 5000)
    assert long.status_code in (200, 422) and "x" * 201 not in long.get_data(as_text=True)


def test_standard_sizes_fill_their_fields_and_the_server_still_validates(
    make_shop: MakeShop,
) -> None:
    detail = family_detail(configurator.get_family("pipe_flange"))
    sizes = detail["standards"]["nominal_size"]
    assert set(sizes) == set(flange_table())
    dn80 = flange_table()["dn80"]
    assert sizes["dn80"] == {
        "outer_diameter": dn80["outer_diameter_mm"],
        "bolt_circle_diameter": dn80["bolt_circle_mm"],
        "bolt_count": dn80["bolt_count"],
        "bolt_hole_diameter": dn80["bolt_hole_mm"],
    }
    assert family_detail(configurator.get_family("enclosure"))["standards"] == {}
    info = detail["material_info"]
    assert info["aluminium_6061"]["processes"] == ["cnc"]
    assert "fdm" in info["petg"]["processes"]
    shop = make_shop()
    alice = shop.shopper()
    mixed = {"nominal_size": "dn80", "outer_diameter": 70, "process": "fdm"}
    resp = alice.api("POST", "/api/quote", {"family": "pipe_flange", "params": mixed})
    assert resp.status_code == 422  # FDM with aluminium, a too-small flange: still refused
    fields = resp.json["error"]["fields"]
    assert "material" in fields or "outer_diameter" in fields


def test_a_design_that_cannot_be_made_has_no_price_or_date_on_the_page(
    make_shop: MakeShop,
) -> None:
    shop = make_shop()
    anon = shop.app.test_client()
    token = csrf_of(anon.get("/shop/enclosure").get_data(as_text=True))
    form = {k: str(v) for k, v in RESIN_TOO_BIG.items()}
    resp = anon.post("/shop/enclosure", data=form | {"csrf_token": token, "action": "quote"})
    html = resp.get_data(as_text=True)
    assert 'id="infeasible"' in html and "No price" in html
    assert 'id="quote-total"' not in html and 'id="ship-date"' not in html
    assert "This design cannot be made, so no 3D preview is built." in html
    assert 'id="add-to-cart" disabled' in html
