"""Roles, IDOR (someone else's objects are 404 on every route), CSRF, cookies and headers."""

from __future__ import annotations

import pytest
from webshop_helpers import ENCLOSURE, PASSWORD, MakeShop, Shopper, WebShop, csrf_of, shop_fixture  # noqa: F401  (the make_shop fixture)

from orders.models import Artifact, Role


def _order(shop: WebShop, who: Shopper) -> tuple[int, int, int]:
    """(configuration id, order id, artifact id) owned by `who`."""
    config_id = shop.save_design(who, ENCLOSURE | {"inner_length": 90})
    resp = who.api(
        "POST",
        "/api/orders",
        {"lines": [{"configuration_id": config_id, "quantity": 2}], "idempotency_key": "k1"},
    )
    assert resp.status_code == 201, resp.json
    store = shop.ctx.settings.resolved_artifact_dir()
    (store / "x").mkdir(parents=True, exist_ok=True)
    (store / "x" / "part.step").write_text("ISO-10303-21;")
    with shop.ctx.db.transaction() as s:
        art = Artifact(
            configuration_id=config_id,
            kind="step",
            path="x/part.step",
            sha256="0" * 64,
            bytes=13,
            builder_version="test",
            meta={},
        )
        s.add(art)
        s.flush()
        art_id = art.id
    return config_id, int(resp.json["id"]), art_id


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_another_customers_objects_are_not_found_on_every_route(
    make_shop: MakeShop, backend: str
) -> None:
    shop = make_shop(backend)
    alice, bob = shop.shopper(), shop.shopper()
    config_id, order_id, art_id = _order(shop, alice)
    assert alice.client.get(f"/orders/{order_id}").status_code == 200
    assert alice.client.get(f"/files/{art_id}").status_code == 200
    token = shop.token(bob.user_id)
    bearer = {"Authorization": f"Bearer {token}"}
    for method, url in [
        ("GET", f"/api/configurations/{config_id}"),
        ("GET", f"/api/configurations/{config_id}/preview"),
        ("POST", f"/api/configurations/{config_id}/preview"),
        ("GET", f"/api/orders/{order_id}"),
        ("GET", f"/orders/{order_id}"),
        ("GET", f"/files/{art_id}"),
        ("GET", f"/shop/enclosure?from={config_id}"),
    ]:
        resp = bob.api(method, url)
        assert resp.status_code == 404, (method, url, resp.status_code)
        if url.startswith("/api/"):
            assert resp.json["error"]["code"] == "not_found"
            by_token = shop.app.test_client().open(url, method=method, headers=bearer)
            assert by_token.status_code == 404, (method, url, "token")
    resp = bob.api(
        "POST",
        "/api/orders",
        {"lines": [{"configuration_id": config_id}], "idempotency_key": "steal"},
    )
    assert resp.status_code == 404
    assert f"#{order_id}<" not in bob.client.get("/orders").get_data(as_text=True)
    assert f"#{order_id}<" in alice.client.get("/orders").get_data(as_text=True)
    assert bob.api("GET", "/api/orders").json == {"orders": []}


def test_roles_are_enforced_on_pages_and_api(make_shop: MakeShop) -> None:
    shop = make_shop()
    anon = shop.app.test_client()
    assert anon.get("/orders").status_code == 302
    assert anon.get("/planner/").status_code == 302
    resp = anon.get("/api/orders")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"
    customer, planner, operator = (
        shop.shopper(r) for r in (Role.CUSTOMER, Role.PLANNER, Role.OPERATOR)
    )
    # Staff pages belong to the planner/operator issues; a customer must never get in.
    for url in ("/planner/", "/operator/"):
        assert customer.client.get(url).status_code in (403, 404), url
    assert planner.client.get("/operator/").status_code == 403
    assert operator.client.get("/planner/").status_code == 403
    assert planner.client.get("/cart").status_code == 403
    resp = planner.api("GET", "/api/orders")
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"
    bad = anon.get("/api/orders", headers={"Authorization": "Bearer hnr_nope"})
    assert bad.status_code == 401
    token = shop.token(customer.user_id)
    assert (
        anon.get("/api/me", headers={"Authorization": f"Bearer {token}"}).json["role"] == "customer"
    )


def test_forms_and_cookie_api_writes_need_the_csrf_token(make_shop: MakeShop) -> None:
    shop = make_shop()
    email = "carol@example.com"
    shop.user(email=email)
    client = shop.app.test_client()
    client.get("/login")
    resp = client.post("/login", data={"email": email, "password": PASSWORD})
    assert resp.status_code == 400 and b"CSRF" in resp.data
    alice = shop.shopper()
    resp = alice.client.post("/api/configurations", json={"family": "enclosure"})
    assert resp.status_code == 400 and resp.json["error"]["code"] == "csrf_failed"
    resp = alice.client.post("/checkout", data={"idempotency_key": "x"})
    assert resp.status_code == 400
    token = shop.token(alice.user_id)
    resp = shop.app.test_client().post(
        "/api/configurations",
        json={"family": "enclosure"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 201


def test_cookies_and_security_headers(make_shop: MakeShop) -> None:
    shop = make_shop(public_url="https://shop.example.com")
    client = shop.app.test_client()
    page = client.get("/login")
    client.post(
        "/login",
        data={
            "csrf_token": csrf_of(page.get_data(as_text=True)),
            "email": "x@example.com",
            "password": "wrong-password",
        },
    )
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    for header in (
        "Content-Security-Policy",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Strict-Transport-Security",
    ):
        assert header in page.headers, header
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    local = make_shop().app.test_client().get("/login")
    assert "Secure" not in local.headers["Set-Cookie"]


def test_login_rejects_wrong_password_and_signup_rules(make_shop: MakeShop) -> None:
    shop = make_shop()
    client = shop.app.test_client()
    token = csrf_of(client.get("/signup").get_data(as_text=True))
    resp = client.post(
        "/signup", data={"csrf_token": token, "email": "no-at-sign", "password": "short"}
    )
    assert resp.status_code == 422 and b"valid e-mail" in resp.data
    resp = client.post(
        "/signup",
        data={
            "csrf_token": token,
            "email": "dana@example.com",
            "name": "<script>alert(1)</script>",
            "password": PASSWORD,
        },
    )
    assert resp.status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in home and "&lt;script&gt;" in home
    client.post("/logout", data={"csrf_token": csrf_of(home)})
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login",
        data={"csrf_token": token, "email": "dana@example.com", "password": "not the password"},
    )
    assert resp.status_code == 401
    resp = client.post(
        "/login",
        data={
            "csrf_token": token,
            "email": "dana@example.com",
            "password": PASSWORD,
            "next": "//evil.example/",
        },
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/"


@pytest.mark.parametrize("hops", [0, 1])
def test_login_limit_is_per_client_behind_a_trusted_proxy(make_shop: MakeShop, hops: int) -> None:
    """Found by the load harness: behind a reverse proxy every customer shared one login bucket.
    With HUNAR_PROXY_HOPS=1 the client address comes from X-Forwarded-For; without it the header
    is ignored (a client cannot pick its own bucket)."""
    shop = make_shop(limits={"login": (2, 60)}, proxy_hops=hops)
    client = shop.app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))

    def attempt(ip: str) -> int:
        return client.post(
            "/login",
            data={"csrf_token": token, "email": "x@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": ip},
        ).status_code

    assert [attempt("10.0.0.1") for _ in range(3)] == [401, 401, 429]
    assert attempt("10.0.0.2") == (401 if hops else 429)
