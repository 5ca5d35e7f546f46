"""E-mail notifications (issue 14): written with the change that causes them (outbox), sent to a
real SMTP server (aiosmtpd, on a free port of this test) once per event however often the flush
runs, kept pending through a server outage, and recorded as not sent without a server. Both
engines."""

from __future__ import annotations

import email
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from factories import make_configuration, make_settings, make_shop, make_user
from sqlalchemy import select

from orders.adapters.mail import NOT_CONFIGURED, flush_mail
from orders.commands.audit import Actor
from orders.commands.fulfilment import cancel_order, deliver_order, ship_order
from orders.commands.notify import explain_hold
from orders.commands.ordering import LineRequest, place_order
from orders.commands.production import hold_lines
from orders.context import AppContext
from orders.lifecycle import Status
from orders.models import Order, OutboxMessage, OutboxStatus, Role
from orders.queries.notifications import recent_mail

STAFF = Actor("shipping clerk")
THIN_WALL = {
    "code": "THIN_WALL",
    "severity": "required",
    "hint": "Walls are too thin to print reliably; make them at least 1.2 mm",
    "measured": 0.8,
    "threshold": 1.2,
    "unit": "mm",
}


class Inbox:
    """aiosmtpd handler: keeps every message the server accepted."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    def __init__(self) -> None:
        self.port, self.inbox = free_port(), Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailctx(
    backend: str, db_factory: Any, tmp_path: Path, smtp: SmtpServer
) -> Iterator[AppContext]:
    settings = make_settings(
        tmp_path,
        db_factory.url(backend),
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_from="Hunar <orders@hunar.example>",
        public_url="https://shop.example.com",
        smtp_timeout_s=5,
    )
    context = AppContext.from_settings(settings)
    yield context
    context.close()


def place(ctx: AppContext) -> tuple[int, str, int]:
    """(order id, customer e-mail, configuration id) of a freshly placed one-line order."""
    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s)
        oid = place_order(
            s, user.id, [LineRequest(cfg.id, 2)], uuid.uuid4().hex, Actor("c", user.id), "PKR"
        ).order.id
        return oid, user.email, cfg.id


def complete(ctx: AppContext, oid: int) -> None:
    """The floor finished the order (the floor's own path is tested in test_orders_fulfilment)."""
    with ctx.db.transaction() as s:
        order = s.get_one(Order, oid)
        for obj in (order, *order.lines):
            obj.status = Status.COMPLETED


def mails(ctx: AppContext) -> list[OutboxMessage]:
    with ctx.db.sessions() as s:
        return list(
            s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "email")
                .order_by(OutboxMessage.id)
            )
        )


def text(msg: Message) -> str:
    body = msg.get_payload(decode=True)
    assert isinstance(body, bytes)
    return body.decode()


def test_placed_order_sends_one_email_with_number_and_link(
    mailctx: AppContext, smtp: SmtpServer
) -> None:
    oid, to, _ = place(mailctx)
    assert flush_mail(mailctx) == 1
    assert flush_mail(mailctx) == 0  # a second flush finds nothing due
    got = smtp.inbox.to(to)
    assert len(got) == 1
    assert got[0]["Subject"] == f"Order #{oid} received"
    body = text(got[0])
    assert f"#{oid}" in body and "Electronics enclosure" in body
    assert f"https://shop.example.com/orders/{oid}" in body
    assert got[0]["Message-ID"].endswith("@hunar.example>")
    (row,) = mails(mailctx)
    assert row.status == OutboxStatus.DELIVERED and row.delivered_at is not None


def test_a_repeated_place_and_a_retried_send_mail_once(
    mailctx: AppContext, smtp: SmtpServer
) -> None:
    oid, to, cfg = place(mailctx)
    with mailctx.db.transaction() as s:  # the same submission again (a double click)
        order = s.get_one(Order, oid)
        again = place_order(
            s,
            order.customer_id,
            [LineRequest(cfg, 2)],
            order.idempotency_key,
            Actor("c", order.customer_id),
            "PKR",
        )
        assert not again.created
    assert len(mails(mailctx)) == 1
    flush_mail(mailctx)
    # a stale claim (a worker died after claiming) makes the row due again only after its lease;
    # a delivered row is never sent again, however late the next flush runs
    flush_mail(mailctx, now=datetime.now(UTC) + timedelta(hours=1))
    assert len(smtp.inbox.to(to)) == 1


def test_hold_tells_the_customer_in_plain_words_and_the_planners(
    mailctx: AppContext, smtp: SmtpServer
) -> None:
    with mailctx.db.transaction() as s:
        make_shop(s)
        planner = make_user(s, Role.PLANNER).email
    oid, to, cfg = place(mailctx)
    reason = f"DFM: THIN_WALL: {THIN_WALL['hint']}"
    with mailctx.db.transaction() as s:
        held = hold_lines(s, cfg, reason, Actor.system("cad-worker"), {"findings": [THIN_WALL]})
        assert held
    with mailctx.db.transaction() as s:  # the CAD job runs again: nothing new is held or sent
        assert hold_lines(s, cfg, reason, Actor.system("cad-worker")) == []
    flush_mail(mailctx)
    (msg,) = [m for m in smtp.inbox.to(to) if "on hold" in m["Subject"]]
    body = text(msg)
    assert "THIN_WALL" not in body and "DFM" not in body
    assert "too thin" in body and "measured 0.80 mm, limit 1.20 mm" in body
    assert "What you can do:" in body and "configurator" in body
    (staff,) = smtp.inbox.to(planner)
    assert f"Order #{oid} on hold" in staff["Subject"] and "THIN_WALL" in text(staff)


def test_every_hold_reason_reads_plainly() -> None:
    for reason in (
        "CAD build failure: Standard_ConstructionError",
        "no machine can make it: the part is larger than every build volume",
        "DFM: HOLE_TOO_SMALL: hole",
    ):
        why, todo = explain_hold(reason, None)
        assert "Standard_" not in why and "HOLE_TOO_SMALL" not in why and todo


def test_ship_deliver_and_cancel_each_mail_once(mailctx: AppContext, smtp: SmtpServer) -> None:
    oid, to, _ = place(mailctx)
    complete(mailctx, oid)
    with mailctx.db.transaction() as s:
        ship_order(s, oid, "TCS", "TCS-123 456", STAFF)
    with mailctx.db.transaction() as s:
        deliver_order(s, oid, STAFF)
    other, to2, _ = place(mailctx)
    for _ in range(2):  # a double click: the second is "already cancelled", no second e-mail
        with mailctx.db.transaction() as s:
            cancel_order(s, other, STAFF, "we cannot make it: out of material")
    flush_mail(mailctx)
    flush_mail(mailctx)
    subjects = [m["Subject"] for m in smtp.inbox.to(to)]
    assert subjects == [
        f"Order #{oid} received",
        f"Order #{oid} has shipped",
        f"Order #{oid} delivered",
    ]
    shipped = text(smtp.inbox.to(to)[1])
    assert "Carrier: TCS" in shipped and "Tracking number: TCS-123 456" in shipped
    cancelled = [m for m in smtp.inbox.to(to2) if "cancelled" in m["Subject"]]
    assert len(cancelled) == 1 and "out of material" in text(cancelled[0])


def test_smtp_down_stays_pending_then_goes_out(mailctx: AppContext, smtp: SmtpServer) -> None:
    smtp.stop()
    oid, to, _ = place(mailctx)
    with mailctx.db.sessions() as s:
        assert s.get_one(Order, oid).status == Status.PLACED  # the order never waits for mail
    assert flush_mail(mailctx) == 0
    (row,) = mails(mailctx)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1
    assert row.last_error and "Connection" in row.last_error
    assert row.next_attempt_at > datetime.now(UTC)  # backoff: not hammered on every request
    assert flush_mail(mailctx) == 0 and mails(mailctx)[0].attempts == 1
    smtp.start()
    assert flush_mail(mailctx, now=datetime.now(UTC) + timedelta(minutes=6)) == 1
    assert len(smtp.inbox.to(to)) == 1
    with mailctx.db.sessions() as s:
        (logged,) = recent_mail(s)
    assert logged.state == "sent" and logged.attempts == 1 and logged.sent_at is not None


def test_no_smtp_configured_records_not_sent(ctx: AppContext, smtp: SmtpServer) -> None:
    assert ctx.settings.smtp_host is None
    oid, to, _ = place(ctx)
    assert flush_mail(ctx) == 0
    (row,) = mails(ctx)
    assert row.status == OutboxStatus.PENDING and row.last_error == NOT_CONFIGURED
    with ctx.db.sessions() as s:
        assert s.get_one(Order, oid).status == Status.PLACED
        (logged,) = recent_mail(s)
    assert logged.state == "not sent" and logged.to == to
    assert smtp.inbox.messages == []  # nothing was sent anywhere
    ctx.settings.smtp_host, ctx.settings.smtp_port = "127.0.0.1", smtp.port  # configured later
    assert flush_mail(ctx) == 1 and len(smtp.inbox.to(to)) == 1
    assert "https://" not in text(smtp.inbox.to(to)[0])  # no public URL: no guessed link
