"""The API document says per family what the server accepts (issue 22, defect 16).

Before, every family's `params` allowed any name and any scalar, and every quantity up to the
shop's line limit, while the server refused unknown names and applied each family's own
limits; and a GLB, served as `model/gltf-binary`, was declared `application/octet-stream`.
test_web_schemathesis.py checks the other direction (schema-invalid bodies are refused).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from webshop_helpers import MakeShop, WebShop, shop_fixture  # noqa: F401  (make_shop fixture)

import configurator
from configurator.params import Boolean, Choice, Integer, Number, Text
from web.auth import is_read_only


@pytest.fixture
def shop(make_shop: MakeShop) -> WebShop:
    return make_shop(limits={})


def _spec(shop: WebShop) -> dict[str, Any]:
    return shop.app.test_client().get("/api/openapi.json").get_json()


def _schemas(shop: WebShop) -> dict[str, Any]:
    return _spec(shop)["components"]["schemas"]


def test_each_family_declares_exactly_its_own_parameters(shop: WebShop) -> None:
    schemas = _schemas(shop)
    refs = [r["$ref"].rsplit("/", 1)[-1] for r in schemas["DesignRequest"]["oneOf"]]
    families = configurator.all_families()
    assert refs == [f"Design_{f.key}" for f in families]
    for family in families:
        params = schemas[f"Design_{family.key}"]["properties"]["params"]
        assert params["additionalProperties"] is False, family.key
        assert sorted(params["properties"]) == sorted(p.name for p in family.params)
        assert schemas[f"Design_{family.key}"]["properties"]["family"] == {"const": family.key}


def test_parameter_bounds_and_options_are_the_families(shop: WebShop) -> None:
    schemas = _schemas(shop)
    for family in configurator.all_families():
        props = schemas[f"Design_{family.key}"]["properties"]["params"]["properties"]
        for p in family.params:
            first = props[p.name]["anyOf"][0]
            if isinstance(p, Number):  # rounded to its step first: half a step either side
                assert first["minimum"] == pytest.approx(p.min - p.step / 2)
                assert first["maximum"] == pytest.approx(p.max + p.step / 2)
            elif isinstance(p, Integer):
                assert (first["minimum"], first["maximum"]) == (p.min, p.max)
            elif isinstance(p, Choice):
                for option in p.options:
                    assert re.fullmatch(first["pattern"], f" {option.upper()} ")
                assert not re.fullmatch(first["pattern"], "none of these")
            elif isinstance(p, Text):
                assert first["maxLength"] >= p.max_length
            elif isinstance(p, Boolean):
                assert first == {"type": "boolean"}


def test_quote_quantity_limit_is_the_familys(shop: WebShop) -> None:
    schemas = _schemas(shop)
    client = shop.app.test_client()
    for family in configurator.all_families():
        declared = schemas[f"Quote_{family.key}"]["properties"]["quantity"]["maximum"]
        assert declared == min(family.max_qty, 10_000)
    knob = configurator.get_family("knob")
    ok = client.post("/api/quote", json={"family": "knob", "quantity": knob.max_qty})
    assert ok.status_code == 200, ok.get_json()
    over = client.post("/api/quote", json={"family": "knob", "quantity": knob.max_qty + 1})
    assert over.status_code == 422
    assert "quantity" in over.get_json()["error"]["fields"]
    assert str(knob.max_qty) in over.get_json()["error"]["message"]


def test_unknown_parameter_is_refused_by_name(shop: WebShop) -> None:
    resp = shop.app.test_client().post(
        "/api/quote", json={"family": "knob", "params": {"colour_code": "red"}}
    )
    assert resp.status_code == 422
    assert "colour_code" in resp.get_json()["error"]["fields"]


def test_files_declare_the_glb_media_type_they_are_served_with(shop: WebShop) -> None:
    content = _spec(shop)["paths"]["/api/artifacts/{artifact_id}"]["get"]["responses"]["200"]
    assert {"model/gltf-binary", "application/octet-stream"} <= set(content["content"])


def test_read_only_posts_skip_the_outbox_flush(shop: WebShop) -> None:
    views = shop.app.view_functions
    assert all(is_read_only(views[name]) for name in ("api.quote", "api.promise", "api.validate"))
    assert not is_read_only(views["api.create_order"])
