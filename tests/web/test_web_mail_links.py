"""Links in e-mails without HUNAR_PUBLIC_URL (issue 14, "links that work anywhere"): an e-mail
written by a request to a host the shop serves itself (HUNAR_TRUSTED_HOSTS, loopback names by
default) links back to that address; a request with a forged Host header writes the e-mail with
no link at all, so nobody can have a password-reset link pointed at their own server; and a set
HUNAR_PUBLIC_URL always wins."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from webshop_helpers import MakeShop, WebShop, csrf_of, shop_fixture  # noqa: F401

from orders.adapters.mail import compose
from orders.models import OutboxMessage
from orders.settings import Settings

RESET_LINE = re.compile(r"^Choose a new password: (\S+)$", re.M)


def _forgot(shop: WebShop, email: str, base_url: str) -> None:
    client = shop.app.test_client()
    page = client.get("/forgot", base_url=base_url).get_data(as_text=True)
    resp = client.post(
        "/forgot",
        base_url=base_url,
        data={"csrf_token": csrf_of(page), "email": email, "request_key": uuid.uuid4().hex},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]


def _reset_mail(shop: WebShop, email: str) -> tuple[str, dict[str, Any]]:
    with shop.ctx.db.sessions() as s:
        rows = s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "email", OutboxMessage.destination == email
            )
        ).all()
    (msg,) = [m for m in rows if m.idempotency_key.startswith("mail:reset")]
    return msg.idempotency_key, dict(msg.payload)


def _sent_link(settings: Settings, shop: WebShop, email: str) -> str | None:
    """The reset link as the e-mail would carry it when sent with `settings`."""
    key, payload = _reset_mail(shop, email)
    found = RESET_LINE.search(compose(settings, key, payload).get_content())
    return found.group(1) if found else None


def test_a_request_to_the_shops_own_host_gets_a_working_link(make_shop: MakeShop) -> None:
    shop = make_shop(public_url=None)
    me = shop.shopper()
    _forgot(shop, me.email, "http://127.0.0.1:8000")
    link = _sent_link(shop.ctx.settings, shop, me.email)
    assert link is not None and link.startswith("http://127.0.0.1:8000/reset/"), link
    assert shop.app.test_client().get(link.removeprefix("http://127.0.0.1:8000")).status_code == 200


def test_a_forged_host_gets_an_email_without_a_link(make_shop: MakeShop) -> None:
    shop = make_shop(public_url=None)
    me = shop.shopper()
    _forgot(shop, me.email, "http://attacker.example")
    _, payload = _reset_mail(shop, me.email)
    assert "base" not in payload["link"]
    assert _sent_link(shop.ctx.settings, shop, me.email) is None
    # the e-mail still went out with its text: the customer can ask staff, nothing is lost
    assert "reset the password" in payload["body"]


def test_the_shop_names_its_own_hosts(make_shop: MakeShop) -> None:
    shop = make_shop(public_url=None, trusted_hosts="shop.lan, 192.168.1.20")
    me, other = shop.shopper(), shop.shopper()
    _forgot(shop, me.email, "http://shop.lan:8000")
    assert _sent_link(shop.ctx.settings, shop, me.email) == (
        f"http://shop.lan:8000{_reset_mail(shop, me.email)[1]['link']['path']}"
    )
    _forgot(shop, other.email, "http://localhost")  # no longer in the list
    assert _sent_link(shop.ctx.settings, shop, other.email) is None


def test_a_set_public_url_wins(make_shop: MakeShop) -> None:
    shop = make_shop(public_url="https://hunar.example.com")
    me = shop.shopper()
    _forgot(shop, me.email, "http://127.0.0.1:8000")
    link = _sent_link(shop.ctx.settings, shop, me.email)
    assert link is not None and link.startswith("https://hunar.example.com/reset/"), link


def test_host_names_compare_without_port_or_case() -> None:
    settings = Settings(_env_file=None, trusted_hosts="Shop.LAN,::1")  # type: ignore[call-arg]
    assert settings.trusted_hosts == ["shop.lan", "::1"]
    for host in ("shop.lan", "SHOP.lan:8000", "[::1]", "[::1]:5000"):
        assert settings.trusts_host(host), host
    for host in ("shop.lan.attacker.example", "attacker.example:80", "localhost", "[::2]"):
        assert not settings.trusts_host(host), host


def test_the_stored_base_is_used_only_without_a_public_url() -> None:
    """Commands run from the CLI or a worker write e-mails with no request behind them: their
    link has no stored base, and only HUNAR_PUBLIC_URL can complete it."""
    bare = {
        "to": "a@example.com",
        "subject": "s",
        "body": "b",
        "link": {"label": "L", "path": "/x"},
    }
    based = bare | {"link": {"label": "L", "path": "/x", "base": "http://127.0.0.1:8000"}}
    plain = Settings(_env_file=None)  # type: ignore[call-arg]
    public = Settings(_env_file=None, public_url="https://h.example")  # type: ignore[call-arg]
    assert "L: " not in compose(plain, "k", bare).get_content()
    assert "L: http://127.0.0.1:8000/x" in compose(plain, "k", based).get_content()
    assert "L: https://h.example/x" in compose(public, "k", based).get_content()
