"""A demo week from sign-up to delivered in a real browser (Playwright + Debian's Chromium), on
SQLite and PostgreSQL (issue 14, "Done when"): every role works through its own pages, no
command stands in for a step under test.

A visitor signs up, configures an enclosure and orders it; the front desk records the bank
transfer on the payments page; a planner proposes, approves and releases a plan; an operator
starts and completes every job of the order at its station (print, finishing, QC, pack); the
shipping desk ships and marks it delivered; the customer follows each step on the order page in
plain words and downloads the delivery note and the invoice; a real SMTP server (aiosmtpd)
receives the order's e-mails, sent by the pages' own outbox flush, which the admin's e-mail log
shows as sent; the planner's reports show this order's lead time and on-time shipping.

Only the set-up (staff accounts) and read-only checks touch the database directly. Screenshots
go to test-artifacts/demo-week/ (git-ignored).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import (  # noqa: F401  (fixtures: browser, new_page, live)
    NewPage,
    browser_fixture,
    design_enclosure,
    engine_shot,
    live_fixture,
    new_page_fixture,
    propose_plan,
    sign_in,
    sign_up,
)
from floor_helpers import Floor
from playwright.sync_api import Page, expect
from shared_helpers import SmtpServer, pdf_text, smtp_server

from orders.lifecycle import Status
from orders.models import Role
from orders.seed import MACHINES, OPERATOR_PROCESSES

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = "demo-week"  # test-artifacts/demo-week/
INLINE_JOBS_MS = 180_000  # jobs run inline here: the checkout waits for the design's CAD build
CARRIER = "TCS"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def live_settings(smtp: SmtpServer) -> dict[str, Any]:
    """The app mails to the test's SMTP server (no public URL set: links in e-mails come from
    the trusted request that wrote them)."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_from": "Hunar <orders@hunar.example>",
        "smtp_timeout_s": 5,
    }


def _configure_and_order(page: Page, base: str) -> int:
    """An enclosure with its own wall and length, two pieces: cart, then place the order."""
    design_enclosure(page, base, "2.5", "86", 2)
    expect(page.locator("#ship-date")).to_be_visible()
    expect(page.locator("#add-to-cart")).to_be_enabled()
    page.click("#add-to-cart")
    expect(page).to_have_url(f"{base}/cart")
    expect(page.locator("tr.cart-line")).to_have_count(1)
    expect(page.locator("tr.cart-line td").nth(1)).to_have_text("2")
    page.click("#place-order")  # pay later: the shop takes bank transfers and cash on delivery
    expect(page.locator("#confirmation")).to_be_visible()
    match = re.search(r"/orders/(\d+)", page.url)
    assert match, page.url
    return int(match.group(1))


def _says(page: Page, base: str, order_id: int, words: str) -> None:
    """The customer reloads the order page and reads where the order is."""
    page.goto(f"{base}/orders/{order_id}")
    expect(page.locator("#order-status")).to_contain_text(words)


def _record_transfer(desk: Page, base: str, order_id: int) -> str:
    """The desk looks the order up on the payments page and records the whole balance as a
    bank transfer; returns the amount."""
    desk.goto(f"{base}/planner/payments")
    desk.fill("#find-order input[name=order]", str(order_id))
    desk.locator("#find-order button[type=submit]").click()
    balance = desk.locator("#balance")
    amount = balance.get_attribute("data-balance")
    assert amount and float(amount) > 0, amount
    form = desk.locator("#record-payment")
    form.locator("select[name=method]").select_option("bank_transfer")
    form.locator("input[name=amount]").fill(amount)
    form.locator("input[name=reference]").fill(f"HBL-{order_id}-7781")
    form.locator("button[type=submit]").click()
    expect(desk.locator(".flashes")).to_contain_text(f"for order #{order_id}")
    expect(balance).to_have_attribute("data-balance", re.compile(r"^0(\.0+)?$"))
    expect(desk.locator("#payments tbody tr[data-state=recorded]")).to_have_count(1)
    return amount


def _plan_and_release(planner: Page, base: str, order_id: int) -> None:
    propose_plan(planner, base, order_id)
    expect(planner.locator("#approve")).to_be_visible(timeout=60_000)
    planner.click("#approve")
    expect(planner.locator("#plan-status")).to_have_attribute("data-state", "approved")
    planner.click("#release")
    expect(planner.locator("#plan-state")).to_have_text("released")


def _work_the_station(operator: Page, base: str, machine: str, order_id: int) -> None:
    """From the operator's station list to the station: start and complete each of the order's
    jobs there (a plate is one job for all its parts), confirming the bed clear when asked."""
    operator.goto(f"{base}/operator/")
    operator.locator(f"a[href='/operator/station/{machine}']").click()
    expect(operator).to_have_url(f"{base}/operator/station/{machine}")
    ours = operator.locator("article.job", has_text=re.compile(rf"order #{order_id}\b"))
    expect(ours.first).to_be_visible()
    while ours.count():
        bed = operator.locator("#bed-clear")
        if bed.count():
            for box in bed.locator("input[type=checkbox]").all():
                box.check()
            bed.locator("button[type=submit]").click()
            expect(bed).to_have_count(0)
        card = operator.locator(f"#{ours.first.get_attribute('id')}")
        card.locator("button[data-action=start]").click()
        expect(card).to_have_attribute("data-status", "running")
        card.locator("button[data-action=complete]").click()
        expect(card).to_have_count(0)


def _download(page: Page, selector: str) -> bytes:
    with page.expect_download() as download:
        page.click(selector)
    return Path(download.value.path()).read_bytes()


def _chart(page: Page, report: str) -> dict[str, float]:
    """A reports chart's bars as label -> value (each bar's tooltip reads 'label: value unit')."""
    titles = page.locator(f"#report-{report} svg title").all_text_contents()
    pairs = [t.rsplit(" ", 1)[0].rsplit(": ", 1) for t in titles]
    return {label: float(value) for label, value in pairs}


def test_a_demo_week_from_sign_up_to_delivered(
    live: tuple[Floor, str], new_page: NewPage, smtp: SmtpServer
) -> None:
    floor, base = live

    def shot(page: Page, name: str) -> None:
        engine_shot(page, SHOTS, floor.ctx, name)

    stations = [m[0] for m in MACHINES if m[2] in OPERATOR_PROCESSES]
    _, operator_email = floor.person(Role.OPERATOR, stations)
    _, planner_email = floor.person(Role.PLANNER)
    _, desk_email = floor.person(Role.PLANNER)
    _, admin_email = floor.person(Role.ADMIN)

    # Monday: a visitor signs up, configures an enclosure and orders it
    customer = new_page(timeout_ms=INLINE_JOBS_MS)
    email = sign_up(customer, base, "Ayesha Khan")
    order_id = _configure_and_order(customer, base)
    # the order page follows by itself: the design's CAD build may still be finishing (the
    # configurator's preview started it, and the order's build request joined it)
    expect(customer.locator("#order-status")).to_contain_text(
        "Your design is checked and ready", timeout=INLINE_JOBS_MS
    )
    expect(customer.locator("#invoice-pdf")).to_be_visible()  # a pro-forma until it ships
    shot(customer, "1-ordered")
    assert smtp.inbox.subjects_to(email) == [f"Order #{order_id} received"]

    # the front desk sees the bank transfer and records it
    desk = new_page()
    sign_in(desk, base, desk_email)
    amount = _record_transfer(desk, base, order_id)
    shot(desk, "2-paid")

    # the planner plans the week and releases it to the floor
    planner = new_page()
    sign_in(planner, base, planner_email)
    _plan_and_release(planner, base, order_id)
    shot(planner, "3-released")
    _says(customer, base, order_id, "Your parts are planned on our machines")

    # the operator works every job of the order at its station, in routing order
    operator = new_page(width=800)
    sign_in(operator, base, operator_email)
    machines = list(dict.fromkeys(machine for _, machine, _ in floor.released_jobs(order_id)))
    assert machines[-2:] == ["qc-01", "pack-01"], machines
    for i, machine in enumerate(machines):
        _work_the_station(operator, base, machine, order_id)
        if i == 0:
            _says(customer, base, order_id, "We are making your part")
            shot(operator, "4-printed")
    assert floor.order_status(order_id) == Status.COMPLETED
    _says(customer, base, order_id, "Your parts are made")
    assert smtp.inbox.subjects_to(email)[-1] == f"Order #{order_id} is ready to ship"

    # the shipping desk ships it, and later marks it delivered
    tracking = f"TRK-{order_id}-{uuid.uuid4().hex[:4].upper()}"
    desk.goto(f"{base}/planner/shipping")
    ready = desk.locator(f"#ready-{order_id}")
    ready.locator("input[name=carrier]").fill(CARRIER)
    ready.locator("input[name=tracking_number]").fill(tracking)
    ready.locator("button[type=submit]").click()
    expect(desk.locator(".flashes")).to_contain_text(f"Order #{order_id} shipped with {CARRIER}")
    transit = desk.locator(f"#transit-{order_id}")
    expect(transit).to_contain_text(tracking)
    shot(desk, "5-shipped")
    _says(customer, base, order_id, f"Shipped with {CARRIER}, tracking {tracking}")
    transit.locator("button[type=submit]").click()
    expect(desk.locator(".flashes")).to_contain_text(f"Order #{order_id} is delivered.")
    expect(transit).to_have_count(0)

    # the customer: delivered, every step lit and told in words, the papers to download
    customer.goto(f"{base}/orders")
    customer.locator(f"a[href='/orders/{order_id}']").first.click()
    status = customer.locator("#order-status")
    expect(status).to_have_attribute("data-status", "delivered")
    expect(status).to_contain_text(f"Delivered (sent with {CARRIER}, tracking {tracking}")
    steps = customer.locator("ol.timeline li")  # placed … delivered, each with its time
    expect(steps.last).to_have_attribute("data-status", "delivered")
    expect(customer.locator(".eta")).to_have_count(0)  # no "current ETA" once it is delivered
    assert steps.evaluate_all("ls => ls.every(l => l.classList.contains('done'))")
    expect(customer.locator("#order-story")).to_contain_text(tracking)
    shot(customer, "6-delivered")
    note = _download(customer, "#delivery-note")
    assert note.startswith(b"%PDF") and tracking in pdf_text(note)
    invoice = _download(customer, "#invoice-pdf")
    assert invoice.startswith(b"%PDF") and amount in pdf_text(invoice).replace(",", "")

    # every e-mail of the order reached the SMTP server, once, and the admin's log says sent
    assert smtp.inbox.subjects_to(email) == [
        f"Order #{order_id} received",
        f"Order #{order_id} is ready to ship",
        f"Order #{order_id} has shipped",
        f"Order #{order_id} delivered",
    ]
    admin = new_page()
    sign_in(admin, base, admin_email)
    admin.goto(f"{base}/planner/mail")
    rows = admin.locator("#mail-log tbody tr", has_text=email)
    expect(rows).to_have_count(4)
    expect(admin.locator("#mail-log tbody tr.mail-sent", has_text=email)).to_have_count(4)
    shot(admin, "7-mail-log")

    # the planner's reports fill from this order's real transitions
    planner.goto(f"{base}/planner/reports")
    lead_time = _chart(planner, "lead_time")
    assert list(lead_time) == [f"#{order_id}"] and lead_time[f"#{order_id}"] > 0, lead_time
    assert list(_chart(planner, "on_time").values()) == [100.0]  # the one day with a shipment
    shot(planner, "8-reports")
