"""The admin's staff page (issue 14): add people with stations (QC and pack included), roles,
deactivation that ends sessions, resets that force a new password, and 4xx naming the field."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from webshop_helpers import MakeShop, Shopper, csrf_of, shop_fixture  # noqa: F401  (make_shop)

from orders.models import Role, User

ONE_TIME = re.compile(r'id="one-time-password">[^<]*<code>([^<]+)</code>')


def _login(app: Flask, email: str, password: str) -> tuple[FlaskClient, Any]:
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"csrf_token": token, "email": email, "password": password})
    return client, resp


def _form(client: FlaskClient, url: str, data: dict[str, Any]) -> Any:
    token = csrf_of(client.get("/account/password").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def _add(admin: Shopper, email: str, role: str, stations: list[str]) -> str:
    resp = admin.post_form(
        "/admin/users",
        {"email": email, "display_name": "Sana", "role": role, "stations": stations},
    )
    assert resp.status_code == 201, resp.get_data(as_text=True)[:500]
    match = ONE_TIME.search(resp.get_data(as_text=True))
    assert match, "the generated password is shown once"
    return match.group(1)


def _change(client: FlaskClient, current: str, new: str, again: str | None = None) -> Any:
    return _form(
        client,
        "/account/password",
        {"current_password": current, "password": new, "password_again": again or new},
    )


def test_an_operator_added_with_qc_and_pack_opens_both_stations_only(make_shop: MakeShop) -> None:
    shop = make_shop()
    admin = shop.shopper(Role.ADMIN)
    assert 'href="/admin/users"' in admin.client.get("/account").get_data(as_text=True)
    page = admin.client.get("/admin/users").get_data(as_text=True)
    assert "qc-01" in page and "pack-01" in page and "operator@hunar.example" in page
    password = _add(admin, "sana@example.com", "operator", ["qc-01", "pack-01"])
    client, resp = _login(shop.app, "sana@example.com", password)
    assert resp.status_code == 302 and "/account/password" in resp.headers["Location"]
    # Until the password is changed, every page leads to the change page and the API says why.
    for url in ("/operator/", "/operator/station/qc-01", "/account"):
        held = client.get(url)
        assert held.status_code == 302 and "/account/password" in held.headers["Location"], url
    assert client.get("/api/me").json["error"]["code"] == "password_change_required"
    done = _change(client, password, "my own long passphrase")
    assert done.status_code == 302, done.get_data(as_text=True)[:300]
    picker = client.get("/operator/").get_data(as_text=True)
    assert "/operator/station/qc-01" in picker and "/operator/station/pack-01" in picker
    assert "/operator/station/fdm-mk4-01" not in picker
    for station in ("qc-01", "pack-01"):
        resp = client.get(f"/operator/station/{station}")
        assert resp.status_code == 200 and "Your stations" in resp.get_data(as_text=True)
        assert client.get(f"/operator/station/{station}/live").status_code == 200
    assert client.get("/operator/station/fdm-mk4-01").status_code == 404
    assert client.get("/operator/station/fdm-mk4-01/live").status_code == 404


def test_only_admins_reach_the_staff_page(make_shop: MakeShop) -> None:
    shop = make_shop()
    assert shop.shopper(Role.PLANNER).client.get("/admin/users").status_code == 403
    assert shop.shopper(Role.OPERATOR).client.get("/admin/users").status_code == 403
    assert shop.shopper(Role.CUSTOMER).client.get("/admin/users").status_code == 404
    anon = shop.app.test_client().get("/admin/users")
    assert anon.status_code == 302 and "/login" in anon.headers["Location"]


def test_deactivation_ends_the_session_and_refuses_sign_in(make_shop: MakeShop) -> None:
    shop = make_shop()
    admin, planner = shop.shopper(Role.ADMIN), shop.shopper(Role.PLANNER)
    assert planner.client.get("/planner/").status_code == 200
    resp = admin.post_form(f"/admin/users/{planner.user_id}/active", {"active": "0"})
    assert resp.status_code == 303
    gone = planner.client.get("/planner/")
    assert gone.status_code == 302 and "/login" in gone.headers["Location"]
    assert _login(shop.app, planner.email, "correct horse battery")[1].status_code == 401
    assert (
        admin.post_form(f"/admin/users/{planner.user_id}/active", {"active": "1"}).status_code
        == 303
    )
    assert _login(shop.app, planner.email, "correct horse battery")[1].status_code == 302


def test_a_reset_forces_a_new_password_at_the_next_sign_in(make_shop: MakeShop) -> None:
    shop = make_shop()
    admin, planner = shop.shopper(Role.ADMIN), shop.shopper(Role.PLANNER)
    resp = admin.post_form(f"/admin/users/{planner.user_id}/password", {"password": ""})
    assert resp.status_code == 200
    temp = ONE_TIME.search(resp.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert planner.client.get("/planner/").status_code == 302, "the old session ended"
    client, login = _login(shop.app, planner.email, temp)
    assert "/account/password" in login.headers["Location"]
    assert "/account/password" in client.get("/planner/").headers["Location"]
    refused = _change(client, temp, "one long passphrase", "another long passphrase")
    assert refused.status_code == 422 and "password_again" in refused.get_data(as_text=True)
    same = _change(client, temp, temp)
    assert same.status_code == 422 and "different" in same.get_data(as_text=True)
    short = _change(client, temp, "short")
    assert short.status_code == 422 and "at least 10" in short.get_data(as_text=True)
    assert "/account/password" in client.get("/planner/").headers["Location"]
    assert _change(client, temp, "one long passphrase").status_code == 302
    assert client.get("/planner/").status_code == 200
    with shop.ctx.db.sessions() as s:
        assert not s.get_one(User, planner.user_id).must_change_password


def test_roles_and_stations_change_and_bad_input_names_the_field(
    make_shop: MakeShop, backend: str
) -> None:
    shop = make_shop(backend)
    admin, person = shop.shopper(Role.ADMIN), shop.shopper(Role.PLANNER)
    url = f"/admin/users/{person.user_id}"
    assert admin.post_form(f"{url}/role", {"role": "operator"}).status_code == 303
    ok = admin.post_form(f"{url}/stations", {"stations": ["qc-01", "pack-01"]})
    assert ok.status_code == 303
    with shop.ctx.db.sessions() as s:
        user = s.get_one(User, person.user_id)
        assert user.role == Role.OPERATOR and user.station_ids == ("pack-01", "qc-01")
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("/admin/users", {"email": "x@example.com", "display_name": "X", "role": "boss"}, 422, "role"),
        ("/admin/users", {"email": "nope", "display_name": "X", "role": "planner"}, 422, "email"),
        ("/admin/users", {"email": "y@example.com", "display_name": "", "role": "planner"}, 422, "display_name"),
        ("/admin/users", {"email": "z@example.com", "display_name": "Z", "role": "operator", "stations": "moon-01"}, 422, "stations"),
        ("/admin/users", {"email": person.email, "display_name": "Z", "role": "planner"}, 422, "email"),
        (f"{url}/role", {}, 422, "role"),
        (f"{url}/stations", {"stations": ["qc-01", "x" * 500]}, 422, "stations"),
        (f"{url}/active", {"active": "maybe"}, 422, "active"),
        (f"{url}/password", {"password": "short"}, 422, "password"),
        (f"/admin/users/{admin.user_id}/role", {"role": "planner"}, 422, "user"),
        (f"/admin/users/{admin.user_id}/active", {"active": "0"}, 422, "user"),
        (f"/admin/users/{admin.user_id}/password", {"password": ""}, 422, "user"),
        ("/admin/users/2147483647/role", {"role": "planner"}, 404, ""),
    ]  # fmt: skip
    for target, data, status, field in cases:
        resp = admin.post_form(target, data)
        assert resp.status_code == status, (target, data, resp.status_code)
        assert f'data-field="{field}"' in resp.get_data(as_text=True) or not field, (target, data)
    assert admin.client.get("/admin/users").status_code == 200, "the admin is still an admin"
