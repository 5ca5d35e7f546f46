"""Contract: the OpenAPI spec's `required` lists are the server's, no more and no less.

A client generated from /api/openapi.json sends exactly the required fields. For every
operation with a request body this builds that minimal body from the schema and checks the
server accepts it (no 422 for a field the schema did not declare required), then drops each
declared required field in turn (also inside array items) and checks the answer is a 4xx
naming that field. Plain schema walking, deterministic: the fuzzing is in
test_web_schemathesis.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from webshop_helpers import MakeShop, WebShop, shop_fixture  # noqa: F401  (make_shop fixture)

Schema = dict[str, Any]
Path_ = tuple[str | int, ...]


def _resolve(spec: Schema, schema: Schema) -> Schema:
    """Follow references; of a `oneOf` (a request per product family) take the first branch."""
    while "$ref" in schema or "oneOf" in schema:
        if "oneOf" in schema:
            schema = schema["oneOf"][0]
            continue
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def minimal(spec: Schema, schema: Schema, ids: dict[str, int]) -> Any:
    """The smallest value the schema allows, with only required properties filled in."""
    schema = _resolve(spec, schema)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {
            name: ids[name] if name in ids else minimal(spec, props.get(name, {}), ids)
            for name in schema.get("required", [])
        }
    if kind == "array":
        return [minimal(spec, schema["items"], ids) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return "k" * max(1, schema.get("minLength", 1))


def required_paths(spec: Schema, schema: Schema, value: Any, at: Path_ = ()) -> list[Path_]:
    """Every declared required field reachable in `value`, as a path of keys and indexes."""
    schema = _resolve(spec, schema)
    out: list[Path_] = []
    if schema.get("type") == "object" and isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            out.append((*at, name))
            out += required_paths(spec, props.get(name, {}), value[name], (*at, name))
    elif schema.get("type") == "array" and isinstance(value, list) and value:
        out += required_paths(spec, schema["items"], value[0], (*at, 0))
    return out


def without(value: Any, path: Path_) -> Any:
    body = copy.deepcopy(value)
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return body


def _operations(spec: Schema) -> list[tuple[str, str, Schema]]:
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody")
            if body:
                ops.append((method, path, body["content"]["application/json"]["schema"]))
    return ops


def _call(shop: WebShop, token: str, method: str, path: str, body: Any) -> Any:
    return shop.app.test_client().open(
        path, method=method.upper(), json=body, headers={"Authorization": f"Bearer {token}"}
    )


def _names(resp: Any) -> str:
    err = (resp.get_json() or {}).get("error", {})
    return " ".join([err.get("message", ""), *err.get("fields", {})])


@pytest.fixture
def api(
    make_shop: MakeShop, monkeypatch: pytest.MonkeyPatch
) -> tuple[WebShop, str, Schema, dict[str, int]]:
    from web.api import views

    # POST /api/preview would start a CAD build per body: the contract is the answer, not CAD
    monkeypatch.setattr(views, "_start_build", lambda ctx, config_id: None)
    shop = make_shop(limits={})
    user = shop.user()
    token = shop.token(user)
    saved = _call(shop, token, "post", "/api/configurations", {"family": "enclosure", "params": {}})
    assert saved.status_code == 201, saved.get_json()
    spec = shop.app.test_client().get("/api/openapi.json").get_json()
    return shop, token, spec, {"configuration_id": int(saved.get_json()["id"])}


def test_every_body_operation_is_covered(api: Any) -> None:
    _, _, spec, _ = api
    covered = {(m, p) for m, p, _ in _operations(spec)}
    assert ("post", "/api/orders") in covered and len(covered) >= 5
    assert ("post", "/api/preview") in covered  # the anonymous preview is in the document


def test_a_body_with_only_the_required_fields_is_accepted(api: Any) -> None:
    shop, token, spec, ids = api
    for method, path, schema in _operations(spec):
        body = minimal(spec, schema, ids)
        resp = _call(shop, token, method, path, body)
        assert resp.status_code < 300, (method, path, body, resp.get_json())


def test_each_required_field_when_omitted_is_refused_by_name(api: Any) -> None:
    shop, token, spec, ids = api
    checked = 0
    for method, path, schema in _operations(spec):
        body = minimal(spec, schema, ids)
        for field in required_paths(spec, schema, body):
            resp = _call(shop, token, method, path, without(body, field))
            assert 400 <= resp.status_code < 500, (method, path, field, resp.get_json())
            assert str(field[-1]) in _names(resp), (method, path, field, resp.get_json())
            checked += 1
    assert checked >= 6


def test_order_request_declares_the_idempotency_key_required(api: Any) -> None:
    _, _, spec, _ = api
    order = spec["components"]["schemas"]["OrderRequest"]
    assert set(order["required"]) == {"lines", "idempotency_key"}
