"""The staff and account forms as Flask-WTF classes (issue 14): a missing or over-long field is a
4xx naming the field and its rule, on the page's own `errors`, and nothing is written; the last
value of a field counts; the form's CSRF check agrees with the app's global one."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from flask_wtf.csrf import CSRFError, generate_csrf
from sqlalchemy import func, select
from webshop_helpers import (  # noqa: F401  (make_shop)
    PASSWORD,
    MakeShop,
    Shopper,
    WebShop,
    csrf_of,
    shop_fixture,
)
from werkzeug.datastructures import MultiDict

from orders.db import Base
from orders.models import ApiToken, OutboxMessage, Role, User
from web.admin.forms import AddUserForm
from web.form_rules import FormInvalid
from web.shop.account_forms import PasswordForm

RESET_PATH = re.compile(r"^/reset/([A-Za-z0-9_-]+)$")


def _rows(shop: WebShop) -> dict[str, int]:
    with shop.ctx.db.sessions() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0
            for t in Base.metadata.sorted_tables
        }


def _names(resp: Any, field: str, rule: str) -> bool:
    """The page names the field (a `data-field` mark) and says the rule."""
    html = resp.get_data(as_text=True)
    return f'data-field="{field}"' in html and rule in html


def _anon(shop: WebShop, page: str = "/login") -> tuple[Any, str]:
    client = shop.app.test_client()
    return client, csrf_of(client.get(page).get_data(as_text=True))


def _hash(shop: WebShop, user_id: int) -> str:
    with shop.ctx.db.sessions() as s:
        return s.get_one(User, user_id).password_hash


# --- the staff page --------------------------------------------------------------------------

STAFF_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("", {"display_name": "X", "role": "planner"}, "email", "required"),
    ("", {"email": "a" * 290 + "@example.com", "display_name": "X", "role": "planner"}, "email", "at most 300 characters"),
    ("", {"email": "x@example.com", "display_name": "X" * 201, "role": "planner"}, "display_name", "at most 200 characters"),
    ("", {"email": "x@example.com", "display_name": "X", "role": "p" * 41}, "role", "at most 40 characters"),
    ("", {"email": "x@example.com", "display_name": "X", "role": "operator", "stations": ["qc-01"] * 101}, "stations", "at most 100"),
    ("", {"email": "x@example.com", "display_name": "X", "role": "operator", "stations": ["qc-01", "q" * 65]}, "stations", "each at most 64 characters"),
    ("/role", {"role": "planner" * 6}, "role", "at most 40 characters"),
    ("/stations", {"stations": ["pack-01"] * 101}, "stations", "at most 100"),
    ("/stations", {"stations": ["x" * 65]}, "stations", "each at most 64 characters"),
    ("/active", {}, "active", "0 or 1"),
    ("/active", {"active": "10"}, "active", "0 or 1"),
    ("/password", {"password": "p" * 1025}, "password", "at most 1024 characters"),
    ("/password", {"password": "", "request_key": "k" * 65}, "request_key", "at most 64 characters"),
]  # fmt: skip


def test_staff_forms_refuse_missing_and_over_long_fields_writing_nothing(
    make_shop: MakeShop,
) -> None:
    shop = make_shop()
    admin, person = shop.shopper(Role.ADMIN), shop.shopper(Role.OPERATOR)
    before, old_hash = _rows(shop), _hash(shop, person.user_id)
    for suffix, data, field, rule in STAFF_CASES:
        url = f"/admin/users/{person.user_id}{suffix}" if suffix else "/admin/users"
        resp = admin.post_form(url, data)
        assert resp.status_code == 422, (url, field, resp.status_code)
        assert _names(resp, field, rule), (url, field, resp.get_data(as_text=True)[:400])
        assert 'id="one-time-password"' not in resp.get_data(as_text=True)
    assert _rows(shop) == before, "a refused form wrote something"
    assert _hash(shop, person.user_id) == old_hash
    assert person.client.get("/account").status_code == 200, "the person's session lives on"
    with shop.ctx.db.sessions() as s:
        user = s.get_one(User, person.user_id)
        assert user.role == Role.OPERATOR and user.active and user.station_ids == ()


def test_staff_forms_take_the_last_value_and_the_whole_multi_select(make_shop: MakeShop) -> None:
    shop = make_shop()
    admin, person = shop.shopper(Role.ADMIN), shop.shopper(Role.PLANNER)
    url = f"/admin/users/{person.user_id}"
    assert admin.post_form(f"{url}/active", {"active": ["1", "0"]}).status_code == 303
    assert admin.post_form(f"{url}/role", {"role": ["admin", "operator"]}).status_code == 303
    stations = ["qc-01", "pack-01", "qc-01"]  # a station twice counts once (the order book)
    assert admin.post_form(f"{url}/stations", {"stations": stations}).status_code == 303
    with shop.ctx.db.sessions() as s:
        user = s.get_one(User, person.user_id)
        assert not user.active and user.role == Role.OPERATOR
        assert user.station_ids == ("pack-01", "qc-01")
    full = admin.post_form(f"{url}/stations", {"stations": ["qc-01"] * 100})
    assert full.status_code == 303, "100 values are still a person's choice"
    assert admin.post_form(f"{url}/stations", {}).status_code == 303  # none: a valid choice
    with shop.ctx.db.sessions() as s:
        assert s.get_one(User, person.user_id).station_ids == ()


# --- sign-up, sign-in, passwords -------------------------------------------------------------


def test_signup_and_login_refuse_bad_fields_before_any_account_or_throttle_row(
    make_shop: MakeShop,
) -> None:
    shop = make_shop(limits={})
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    before = _rows(shop)
    client, token = _anon(shop, "/signup")
    signups = [
        ({"password": PASSWORD}, "email", "required"),
        ({"email": email, "name": "n" * 121, "password": PASSWORD}, "name", "at most 120 characters"),
        ({"email": email, "password": "p" * 1025}, "password", "at most 1024 characters"),
        ({"email": email}, "password", "required"),
    ]  # fmt: skip
    for data, field, rule in signups:
        resp = client.post("/signup", data={"csrf_token": token, **data})
        assert resp.status_code == 422 and _names(resp, field, rule), (field, resp.status_code)
    kept = client.post("/signup", data={"csrf_token": token, "email": email, "name": "n" * 121})
    assert email in kept.get_data(as_text=True), "the typed address is kept on the page"
    assert _rows(shop) == before, "a refused sign-up wrote something"
    shop.user(email="known@example.com")
    before = _rows(shop)
    client, token = _anon(shop)
    logins = [
        ({"password": PASSWORD}, "email", "required"),
        ({"email": "known@example.com"}, "password", "required"),
        ({"email": "k" * 301, "password": PASSWORD}, "email", "at most 300 characters"),
        ({"email": "known@example.com", "password": "p" * 1025}, "password", "at most 1024 characters"),
    ]  # fmt: skip
    for data, field, rule in logins:
        resp = client.post("/login", data={"csrf_token": token, **data})
        assert resp.status_code == 422 and _names(resp, field, rule), (field, resp.status_code)
    assert _rows(shop) == before, "a refused sign-in counted as a failed attempt"
    ok = client.post(
        "/login",
        data={"csrf_token": token, "email": [" x@x.example", " Known@Example.com "], "password": PASSWORD},
    )  # fmt: skip
    assert ok.status_code == 302, "the last value counts, trimmed and lower-cased"


def test_password_change_refuses_bad_fields_and_keeps_the_password(make_shop: MakeShop) -> None:
    shop = make_shop(limits={})
    me = shop.shopper()
    old_hash, before = _hash(shop, me.user_id), _rows(shop)
    new = "a brand new passphrase"
    cases = [
        ({"password": new, "password_again": new}, "current_password", "required"),
        ({"current_password": PASSWORD, "password_again": new}, "password", "required"),
        ({"current_password": PASSWORD, "password": new}, "password_again", "required"),
        ({"current_password": PASSWORD, "password": "p" * 1025, "password_again": "p" * 1025}, "password", "at most 1024 characters"),
        ({"current_password": PASSWORD, "password": new, "password_again": new + "!"}, "password_again", "the two new passwords differ"),
    ]  # fmt: skip
    for data, field, rule in cases:
        resp = me.post_form("/account/password", data)
        assert resp.status_code == 422 and _names(resp, field, rule), (field, resp.status_code)
    assert _hash(shop, me.user_id) == old_hash and _rows(shop) == before
    assert me.client.get("/account").status_code == 200, "the session did not end"


def test_forgot_and_reset_refuse_bad_fields_and_the_link_stays_usable(
    make_shop: MakeShop,
) -> None:
    shop = make_shop(limits={})
    me = shop.shopper()
    client, token = _anon(shop, "/forgot")
    before = _rows(shop)
    for data, field, rule in [
        ({}, "email", "required"),
        ({"email": "m" * 301}, "email", "at most 300 characters"),
        ({"email": me.email, "request_key": "k" * 65}, "request_key", "at most 64 characters"),
    ]:
        resp = client.post("/forgot", data={"csrf_token": token, **data})
        assert resp.status_code == 422 and _names(resp, field, rule), (field, resp.status_code)
    assert _rows(shop) == before, "a refused request wrote a link or an e-mail"
    sent = client.post("/forgot", data={"csrf_token": token, "email": me.email})
    assert sent.status_code == 200 and 'id="reset-sent"' in sent.get_data(as_text=True)
    path = _reset_path(shop)
    assert _rows(shop) != before, "the good request wrote its link"
    visitor = shop.app.test_client()
    token = csrf_of(visitor.get(path).get_data(as_text=True))
    old_hash = _hash(shop, me.user_id)
    for data, field, rule in [
        ({"password_again": "a new passphrase"}, "password", "required"),
        ({"password": "p" * 1025, "password_again": "p" * 1025}, "password", "at most 1024 characters"),
        ({"password": "a new passphrase", "password_again": "another passphrase"}, "password_again", "the two new passwords differ"),
    ]:  # fmt: skip
        resp = visitor.post(path, data={"csrf_token": token, **data})
        assert resp.status_code == 422 and _names(resp, field, rule), (field, resp.status_code)
    assert _hash(shop, me.user_id) == old_hash
    new = "a new passphrase"
    done = visitor.post(path, data={"csrf_token": token, "password": new, "password_again": new})
    assert done.status_code == 302, "the refused posts did not burn the link"
    token = csrf_of(visitor.get("/login").get_data(as_text=True))
    gone = visitor.post(path, data={"csrf_token": token, "password": "p" * 1025})
    assert gone.status_code == 410, "a dead link says so before a field rule does"


def _reset_path(shop: WebShop) -> str:
    with shop.ctx.db.sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email")).all()
        (msg,) = [m for m in rows if m.idempotency_key.startswith("mail:reset")]
        path = str(msg.payload["link"]["path"])
    assert RESET_PATH.match(path), path
    return path


# --- API tokens ------------------------------------------------------------------------------


def _tokens(shop: WebShop, user_id: int) -> list[tuple[str, bool]]:
    with shop.ctx.db.sessions() as s:
        rows = s.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
        return [(t.name, t.revoked) for t in rows]


@pytest.mark.parametrize(
    ("data", "field", "rule"),
    [
        ({"name": "n" * 121}, "name", "at most 120 characters"),
        ({"action": "revoke"}, "token_id", "required"),
        ({"action": "revoke", "token_id": "01"}, "token_id", "a whole number"),
        ({"action": "revoke", "token_id": "١"}, "token_id", "a whole number"),
        ({"action": "revoke", "token_id": "1_0"}, "token_id", "a whole number"),
        ({"action": "revoke", "token_id": "9999999999"}, "token_id", "at most 2147483647"),
    ],
)
def test_token_forms_refuse_bad_fields_with_a_422(
    make_shop: MakeShop, data: dict[str, str], field: str, rule: str
) -> None:
    shop = make_shop(limits={})
    me = shop.shopper()
    ok = me.post_form("/account", {"name": "my ERP"})
    assert ok.status_code == 200 and 'id="new-token"' in ok.get_data(as_text=True)
    resp = me.post_form("/account", data)
    assert resp.status_code == 422 and _names(resp, field, rule), resp.get_data(as_text=True)[:300]
    assert 'id="new-token"' not in resp.get_data(as_text=True)
    assert _tokens(shop, me.user_id) == [("my ERP", False)], "nothing created or revoked"


def test_token_forms_create_and_revoke_as_before(make_shop: MakeShop) -> None:
    shop = make_shop(limits={})
    me, other = shop.shopper(), shop.shopper()
    assert me.post_form("/account", {"name": "  "}).status_code == 200
    assert me.post_form("/account", {"name": ["first", " ci "]}).status_code == 200
    assert [n for n, _ in _tokens(shop, me.user_id)] == ["api client", "ci"]
    again = me.post_form("/account", {"name": "ci"})
    assert again.status_code == 200 and "already exists" in again.get_data(as_text=True)
    with shop.ctx.db.sessions() as s:
        mine = s.scalars(select(ApiToken.id).where(ApiToken.user_id == me.user_id)).all()
    theirs = other.post_form("/account", {"action": "revoke", "token_id": str(mine[0])})
    assert theirs.status_code == 200, "another user's token is a refusal said on the page"
    assert not any(r for _, r in _tokens(shop, me.user_id))
    done = me.post_form("/account", {"action": "revoke", "token_id": str(mine[0])})
    assert done.status_code == 200
    assert _tokens(shop, me.user_id) == [("api client", True), ("ci", False)]


# --- CSRF: the forms and the global check agree ---------------------------------------------


def test_the_forms_check_the_same_csrf_token_as_the_app(make_shop: MakeShop) -> None:
    """Should a form ever see a request the global CSRFProtect did not check (an exempted
    view), it checks the same `csrf_token` field against the same session secret."""
    app = make_shop().app
    fields = {"current_password": "x", "password": "y", "password_again": "y"}
    with app.test_request_context("/", method="POST"):
        with pytest.raises(CSRFError):
            PasswordForm(formdata=MultiDict({"csrf_token": "forged", **fields})).problem()
        with pytest.raises(CSRFError):
            PasswordForm(formdata=MultiDict(fields)).problem()
        good = MultiDict({"csrf_token": generate_csrf(), **fields})  # the page's csrf_token()
        assert PasswordForm(formdata=good).problem() is None
        with pytest.raises(FormInvalid) as refused:
            AddUserForm(formdata=good).checked()
    assert refused.value.fields == {"email": "required", "display_name": "required"}
