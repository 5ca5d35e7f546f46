"""The JSON API: one error shape everywhere, bad input, rate limits, idempotent orders."""

from __future__ import annotations

from typing import Any

from webshop_helpers import ENCLOSURE, MakeShop, csrf_of, shop_fixture  # noqa: F401  (the make_shop fixture)

RESIN_TOO_BIG = ENCLOSURE | {"inner_length": 250, "process": "resin", "material": "resin"}


def _is_error(body: Any, code: str) -> None:
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_one_error_shape_for_404_405_413_500(make_shop: MakeShop) -> None:
    shop = make_shop()

    def boom() -> str:
        raise RuntimeError("kaboom")

    shop.app.add_url_rule("/api/boom", "boom", boom)
    client = shop.app.test_client()
    _is_error(client.get("/api/nope").json, "not_found")
    resp = client.delete("/api/quote")
    assert resp.status_code == 405 and "POST" in resp.headers["Allow"]
    _is_error(resp.json, "method_not_allowed")
    resp = client.post("/api/quote", data=b"x" * 300_000, content_type="application/json")
    assert resp.status_code == 413
    _is_error(resp.json, "request_entity_too_large")
    resp = client.get("/api/boom")
    assert resp.status_code == 500 and b"kaboom" not in resp.data
    _is_error(resp.json, "internal_error")
    resp = client.get("/api/families/teapot")
    assert resp.status_code == 404
    _is_error(resp.json, "unknown_family")
    html = client.get("/no-such-page")
    assert html.status_code == 404 and html.mimetype == "text/html"


def test_bad_input_names_the_field_and_the_rule(make_shop: MakeShop) -> None:
    client = make_shop().app.test_client()

    def quote(body: Any) -> Any:
        return client.post("/api/quote", json=body)

    resp = quote({"family": "enclosure", "params": ENCLOSURE | {"wall": "thick"}})
    assert resp.status_code == 422 and "wall" in resp.json["error"]["fields"]
    _is_error(resp.json, "invalid_configuration")
    resp = quote({"family": "enclosure", "params": ENCLOSURE | {"wall": 60}})
    assert resp.status_code == 422 and "outside" in resp.json["error"]["fields"]["wall"]
    resp = quote({"family": "enclosure", "params": {}, "colour_of_sky": "blue"})
    _is_error(resp.json, "unknown_field")
    resp = quote({"family": "enclosure", "params": {"<b>x</b>": 1}})
    assert resp.status_code == 422 and any("b>x" in k for k in resp.json["error"]["fields"])
    resp = quote({"family": "enclosure", "params": {"wall": [1, 2]}})
    _is_error(resp.json, "invalid_field")
    for qty in (0, -1, "3", 1.5, True, 10**9):
        resp = quote({"family": "enclosure", "quantity": qty})
        assert resp.status_code == 422 and "quantity" in resp.json["error"]["fields"], qty
    resp = quote({"family": "enclosure", "tier": "yesterday"})
    assert "tier" in resp.json["error"]["fields"]
    resp = client.post("/api/quote", data="not json", content_type="text/plain")
    _is_error(resp.json, "invalid_body")
    resp = client.post(
        "/api/validate", json={"family": "nameplate", "params": {"text": "<script>x</script>"}}
    )
    assert resp.status_code == 200 and resp.json["ok"] is False
    resp = client.post("/api/validate", json={"family": "enclosure", "params": ENCLOSURE})
    assert resp.json["ok"] is True and len(resp.json["config_hash"]) == 64


def test_quote_is_itemised_with_a_date_and_says_where_the_price_came_from(
    make_shop: MakeShop,
) -> None:
    client = make_shop().app.test_client()
    one = client.post("/api/quote", json={"family": "enclosure", "params": ENCLOSURE}).json
    ten = client.post(
        "/api/quote",
        json={"family": "enclosure", "params": ENCLOSURE, "quantity": 10, "tier": "express"},
    ).json
    assert one["source"] == "analytic" and one["promise"]["ok"] and one["orderable"]
    assert {ln["code"] for ln in one["lines"]} and float(ten["total"]) > float(one["total"])
    assert (
        ten["promise"]["ship_date"]
        <= client.post(
            "/api/promise",
            json={
                "family": "enclosure",
                "params": ENCLOSURE,
                "quantity": 10,
                "tier": "economy",
            },
        ).json["promise"]["ship_date"]
    )
    big = client.post("/api/quote", json={"family": "enclosure", "params": RESIN_TOO_BIG}).json
    assert big["orderable"] is False and big["feasibility"]["reasons"]
    assert "does not fit" in big["feasibility"]["reasons"][0]["message"]
    families = client.get("/api/families").json["families"]
    assert "enclosure" in {f["key"] for f in families}
    detail = client.get("/api/families/enclosure").json
    wall = next(p for g in detail["groups"] for p in g["params"] if p["name"] == "wall")
    assert wall["unit"] == "mm" and wall["help"]


def test_orders_are_idempotent_and_infeasible_designs_cannot_be_ordered(
    make_shop: MakeShop,
) -> None:
    shop = make_shop()
    alice = shop.shopper()
    config_id = shop.save_design(alice)
    body = {"lines": [{"configuration_id": config_id, "quantity": 2}], "idempotency_key": "dbl"}
    first, second = alice.api("POST", "/api/orders", body), alice.api("POST", "/api/orders", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json["id"] == second.json["id"]
    changed = alice.api(
        "POST", "/api/orders", body | {"lines": [{"configuration_id": config_id, "quantity": 3}]}
    )
    assert changed.status_code == 409
    _is_error(changed.json, "duplicate_submission")
    assert len(alice.api("GET", "/api/orders").json["orders"]) == 1
    line = first.json["lines"][0]
    assert line["status"] == "placed" and line["timeline"][0]["reached"] is True
    assert [s["status"] for s in line["timeline"]][-2:] == ["shipped", "delivered"]
    big = shop.save_design(alice, RESIN_TOO_BIG)
    resp = alice.api(
        "POST", "/api/orders", {"lines": [{"configuration_id": big}], "idempotency_key": "big"}
    )
    assert resp.status_code == 422 and "cannot be made" in resp.json["error"]["message"]


def test_rate_limits_on_login_signup_and_quote(make_shop: MakeShop) -> None:
    shop = make_shop(limits={"login": (3, 60), "signup": (2, 60), "quote": (4, 60)})
    client = shop.app.test_client()
    statuses = [
        client.post("/api/quote", json={"family": "enclosure"}).status_code for _ in range(6)
    ]
    assert statuses == [200] * 4 + [429] * 2
    resp = client.post("/api/quote", json={"family": "enclosure"})
    _is_error(resp.json, "rate_limited")
    assert int(resp.headers["Retry-After"]) >= 1
    token = {"csrf_token": csrf_of(client.get("/login").get_data(as_text=True))}
    logins = [client.post("/login", data=token).status_code for _ in range(4)]
    assert logins[-1] == 429 and 429 not in logins[:3]
    signups = [client.post("/signup", data=token).status_code for _ in range(3)]
    assert signups[-1] == 429 and 429 not in signups[:2]


def test_openapi_and_docs_are_served_locally(make_shop: MakeShop) -> None:
    client = make_shop().app.test_client()
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.") and "/api/quote" in spec["paths"]
    docs = client.get("/api/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui-bundle.js" in docs and "http" not in docs.split("<body>")[1]
    assert client.get("/static/vendor/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/vendor/model-viewer.min.js").status_code == 200


def test_rate_limiter_shares_counts_through_redis(redis_url: str) -> None:
    """Two limiters on one Redis act as one (two gunicorn workers share the budget)."""
    import uuid

    from web.ratelimit import RateLimiter

    key = f"test:{uuid.uuid4().hex}"
    one, two = RateLimiter(redis_url), RateLimiter(redis_url)
    results = [limiter.hit(key, 3, 3600) for limiter in (one, two, one, two)]
    assert results[:3] == [0, 0, 0] and results[3] >= 1
