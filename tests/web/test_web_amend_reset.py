"""The shop's amend and password-reset pages (issue 14): forms with CSRF, plain words on the
order page, refusals as 4xx naming the field or the rule, the same answer for any address, and
a reset link that works once (410 afterwards) and ends every session."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select
from webshop_helpers import PASSWORD, MakeShop, Shopper, WebShop, csrf_of, shop_fixture  # noqa: F401

from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.commands.production import hold_lines, mark_cad_ready
from orders.models import OrderLine, OutboxMessage, OutboxStatus

NEW = "a brand new passphrase"
RESET_PATH = re.compile(r"^/reset/([A-Za-z0-9_-]+)$")


def order_of(shop: WebShop, who: Shopper) -> tuple[int, int, int]:
    """(order id, line id, configuration id) placed through the service. Its CAD request is
    closed, so the line stays before CAD while the test amends it."""
    config_id = shop.save_design(who)
    with shop.ctx.db.transaction() as s:
        order = place_order(
            s,
            who.user_id,
            [LineRequest(config_id, 2)],
            uuid.uuid4().hex,
            Actor(who.email, who.user_id),
            "PKR",
        ).order
        for msg in s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "enqueue")):
            msg.status = OutboxStatus.DEAD
        return order.id, order.lines[0].id, config_id


def test_the_customer_amends_a_line_before_cad(make_shop: MakeShop, backend: str) -> None:
    shop = make_shop(backend)
    me = shop.shopper()
    oid, lid, _ = order_of(shop, me)
    page = me.client.get(f"/orders/{oid}").get_data(as_text=True)
    assert 'class="amend-line"' in page and 'name="tier"' in page
    resp = me.post_form(
        f"/orders/{oid}/amend", {"line_id": lid, "quantity": "5", "tier": "express"}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    page = me.client.get(f"/orders/{oid}").get_data(as_text=True)
    assert f"Line {lid} changed: 5 units, express" in page
    assert "You changed line" in page and "quantity 2 → 5" in page
    again = me.post_form(
        f"/orders/{oid}/amend", {"line_id": lid, "quantity": "5", "tier": "express"}
    )
    assert again.status_code == 302
    assert "nothing changed" in me.client.get(f"/orders/{oid}").get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"quantity": "2", "tier": "standard"}, "choose the line"),
        ({"quantity": "two", "tier": "standard"}, "quantity must be a whole number"),
        ({"quantity": "0", "tier": "standard"}, "quantity must be a whole number from 1"),
        ({"quantity": "2", "tier": "warp"}, "unknown lead-time tier"),
    ],
)
def test_bad_amend_input_is_a_422_naming_it(
    make_shop: MakeShop, form: dict[str, str], field: str
) -> None:
    shop = make_shop()
    me = shop.shopper()
    oid, lid, _ = order_of(shop, me)
    data = {"line_id": str(lid), **form} if field != "choose the line" else form
    resp = me.post_form(f"/orders/{oid}/amend", data)
    assert resp.status_code == 422
    assert field in resp.get_data(as_text=True)


def test_amend_refused_after_cad_and_for_others(make_shop: MakeShop) -> None:
    shop = make_shop()
    me, other = shop.shopper(), shop.shopper()
    oid, lid, cfg = order_of(shop, me)
    form = {"line_id": str(lid), "quantity": "3", "tier": "standard"}
    assert other.post_form(f"/orders/{oid}/amend", form).status_code == 404
    with shop.ctx.db.transaction() as s:
        mark_cad_ready(s, cfg, None, {}, Actor.system("cad-worker"))
    resp = me.post_form(f"/orders/{oid}/amend", form)
    assert resp.status_code == 422
    assert "can no longer be changed online" in resp.get_data(as_text=True)
    assert 'class="amend-line"' not in resp.get_data(as_text=True)
    with shop.ctx.db.sessions() as s:
        assert s.get_one(OrderLine, lid).quantity == 2


def test_a_held_order_in_plain_words_with_its_choices(make_shop: MakeShop) -> None:
    shop = make_shop()
    me = shop.shopper()
    oid, lid, cfg = order_of(shop, me)
    finding = {"code": "THIN_WALL", "severity": "required", "hint": "Walls are too thin"}
    with shop.ctx.db.transaction() as s:
        hold_lines(
            s, cfg, "DFM: THIN_WALL: thin", Actor.system("cad-worker"), {"findings": [finding]}
        )
    page = me.client.get(f"/orders/{oid}").get_data(as_text=True)
    assert "THIN_WALL" not in page and "DFM" not in page
    assert "What you can do:" in page and "Configure a new design" in page
    assert 'id="cancel-order"' in page and 'class="amend-line"' not in page
    form = {"line_id": str(lid), "quantity": "3", "tier": "standard"}
    refused = me.post_form(f"/orders/{oid}/amend", form)
    assert refused.status_code == 422 and "new design" in refused.get_data(as_text=True)
    assert me.post_form(f"/orders/{oid}/cancel", {"reason": ""}).status_code == 302
    assert "You cancelled this order" in me.client.get(f"/orders/{oid}").get_data(as_text=True)


def reset_path(shop: WebShop, email: str) -> str:
    with shop.ctx.db.sessions() as s:
        rows = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "email", OutboxMessage.destination == email)
            .order_by(OutboxMessage.id)
        ).all()
    (msg,) = [m for m in rows if m.idempotency_key.startswith("mail:reset")]
    path = str(msg.payload["link"]["path"])
    assert RESET_PATH.match(path), path
    return path


def forgot(shop: WebShop, email: str) -> str:
    client = shop.app.test_client()
    page = client.get("/forgot").get_data(as_text=True)
    assert 'name="request_key"' in page
    resp = client.post(
        "/forgot",
        data={"csrf_token": csrf_of(page), "email": email, "request_key": uuid.uuid4().hex},
    )
    assert resp.status_code == 200
    return resp.get_data(as_text=True).split("<main", 1)[-1]


def test_forgot_answers_the_same_for_any_address(make_shop: MakeShop) -> None:
    shop = make_shop()
    me = shop.shopper()
    assert 'href="/forgot"' in shop.app.test_client().get("/login").get_data(as_text=True)
    known = forgot(shop, me.email)
    unknown = forgot(shop, "nobody-at-all@example.com")
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", known) == strip.sub("", unknown)
    assert "If an account has that address" in known
    reset_path(shop, me.email)  # the known address got its link; the unknown one nothing


def test_reset_link_works_once_and_ends_every_session(make_shop: MakeShop, backend: str) -> None:
    shop = make_shop(backend)
    me = shop.shopper()
    forgot(shop, me.email)
    path = reset_path(shop, me.email)
    visitor = shop.app.test_client()
    page = visitor.get(path)
    assert page.status_code == 200 and 'id="reset-form"' in page.get_data(as_text=True)
    token = csrf_of(page.get_data(as_text=True))
    differ = visitor.post(path, data={"csrf_token": token, "password": NEW, "password_again": "x"})
    assert differ.status_code == 422 and "the two new passwords differ" in differ.get_data(
        as_text=True
    )
    weak = visitor.post(
        path, data={"csrf_token": token, "password": "short", "password_again": "short"}
    )
    assert weak.status_code == 422 and "at least 10 characters" in weak.get_data(as_text=True)
    done = visitor.post(path, data={"csrf_token": token, "password": NEW, "password_again": NEW})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    # the shopper's old session ended with the old password
    assert me.client.get("/account").status_code == 302
    again = visitor.get(path)
    assert again.status_code == 410
    assert "expired or was already used" in again.get_data(as_text=True)
    token = csrf_of(visitor.get("/login").get_data(as_text=True))  # the reset cleared the session
    reuse = visitor.post(path, data={"csrf_token": token, "password": NEW, "password_again": NEW})
    assert reuse.status_code == 410
    fresh = shop.app.test_client()
    login = csrf_of(fresh.get("/login").get_data(as_text=True))
    old = fresh.post("/login", data={"csrf_token": login, "email": me.email, "password": PASSWORD})
    assert old.status_code == 401
    new = fresh.post("/login", data={"csrf_token": login, "email": me.email, "password": NEW})
    assert new.status_code == 302


def test_an_unknown_or_absurd_link_is_gone(make_shop: MakeShop) -> None:
    client = make_shop().app.test_client()
    assert client.get("/reset/not-a-token").status_code == 410
    assert client.get("/reset/" + "x" * 500).status_code == 410
