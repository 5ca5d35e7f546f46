"""The admin's e-mail log (issue 14): an order placed over the web is mailed by the request's own
outbox flush to a real SMTP server, the log lists it (and a not-sent one) for the admin only."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from webshop_helpers import MakeShop, shop_fixture  # noqa: F401  (make_shop)

from orders.models import Role


class Inbox:
    def __init__(self) -> None:
        self.rcpts: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.rcpts.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, inbox
    controller.stop()


def test_order_mail_is_sent_after_the_request_and_logged_for_the_admin(
    make_shop: MakeShop, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    shop = make_shop(smtp_host="127.0.0.1", smtp_port=port, inprocess_jobs="thread")
    alice = shop.shopper()
    config_id = shop.save_design(alice)
    body = {"lines": [{"configuration_id": config_id, "quantity": 1}], "idempotency_key": "m1"}
    resp = alice.api("POST", "/api/orders", body)
    assert resp.status_code == 201, resp.json
    assert inbox.rcpts == [alice.email]  # sent by the write request's own flush
    admin = shop.shopper(Role.ADMIN)
    page = admin.client.get("/planner/mail")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert alice.email in html and f"Order #{resp.json['id']} received" in html
    assert 'class="mail-sent"' in html and 'id="no-smtp"' not in html


def test_without_smtp_the_log_says_not_sent_and_the_order_succeeds(make_shop: MakeShop) -> None:
    shop = make_shop()
    alice = shop.shopper()
    config_id = shop.save_design(alice)
    body = {"lines": [{"configuration_id": config_id, "quantity": 1}], "idempotency_key": "m2"}
    assert alice.api("POST", "/api/orders", body).status_code == 201
    html = shop.shopper(Role.ADMIN).client.get("/planner/mail").get_data(as_text=True)
    assert 'id="no-smtp"' in html and 'class="mail-not-sent"' in html
    assert "not sent: no SMTP configured" in html


@pytest.mark.parametrize(
    ("role", "status"), [(Role.CUSTOMER, 404), (Role.PLANNER, 403), (Role.OPERATOR, 403)]
)
def test_only_the_admin_sees_the_mail_log(make_shop: MakeShop, role: Role, status: int) -> None:
    shop = make_shop()
    assert shop.shopper(role).client.get("/planner/mail").status_code == status
    anonymous = shop.app.test_client().get("/planner/mail")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
