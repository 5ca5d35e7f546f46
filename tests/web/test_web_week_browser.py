"""The shop's week in a real browser (Playwright + Debian's Chromium), on SQLite and PostgreSQL
(issue 14): a customer orders and cancels; a customer orders and follows it to "delivered"; an
admin adds an operator for QC and pack and resets their password, the operator completes QC and
pack, and the shipping desk ships; and the configurator's fixes (an anonymous preview, the
design kept through the login redirect, process → materials → colours, a standard size filling
its fields, an honest preview while a field is invalid, no price for what cannot be made).

One app and one Chromium per engine; staff steps that are not under test (the plan, the print
job) go through the commands. Screenshots go to test-artifacts/week/ (git-ignored).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from browser_helpers import (  # noqa: F401  (fixtures: browser, new_page, live, live_settings)
    NewPage,
    browser_fixture,
    design_enclosure,
    engine_shot,
    live_fixture,
    live_settings_fixture,
    new_page_fixture,
    sign_in,
)
from floor_helpers import Floor
from playwright.sync_api import Page, expect

from mes_bridge.intake import StatusEvent
from orders.commands.audit import Actor
from orders.commands.floor_events import apply_event
from orders.commands.fulfilment import deliver_order, ship_order
from orders.lifecycle import Status
from orders.models import Role

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = "week"  # test-artifacts/week/
ONE_TIME = re.compile(r"<code>([^<]+)</code>")
STAFF = Actor("week-test")
HANDS = ("qc-01", "pack-01")
INLINE_JOBS_MS = 180_000  # jobs run inline here: the first checkout of a design waits for CAD


def _shot(page: Page, live: tuple[Floor, str], name: str) -> None:
    engine_shot(page, SHOTS, live[0].ctx, name)


def _person(floor: Floor, role: Role) -> str:
    return floor.person(role)[1]


def _order_in_browser(page: Page, base: str) -> int:
    """The signed-in customer orders the default enclosure; returns the order number."""
    page.goto(f"{base}/shop/enclosure")
    expect(page.locator("#quote-total")).to_be_visible(timeout=30_000)
    expect(page.locator("#add-to-cart")).to_be_enabled()
    page.click("#add-to-cart")
    expect(page).to_have_url(f"{base}/cart")
    page.click("#place-order")
    expect(page.locator("#confirmation")).to_be_visible(timeout=60_000)
    match = re.search(r"/orders/(\d+)", page.url)
    assert match, page.url
    return int(match.group(1))


def _report(floor: Floor, job: str, kind: str) -> None:
    ev = StatusEvent(
        job_order_id=job,
        kind=kind,
        at=datetime.now(UTC),
        event_id=uuid.uuid4().hex,
        source="button",
    )
    with floor.ctx.db.transaction() as s:
        apply_event(s, ev, Actor("printer"))


def _to_the_hands(floor: Floor, order_id: int) -> list[tuple[str, str, int]]:
    """Plan and release, then the machines' jobs run (server-side); the QC and pack jobs are
    left for people. Returns the order's released jobs."""
    floor.release_plan()
    jobs = floor.released_jobs(order_id)
    for job, machine, _ in jobs:
        if machine not in HANDS:
            _report(floor, job, "started")
            _report(floor, job, "completed")
    return jobs


def test_a_customer_orders_and_cancels(live: tuple[Floor, str], new_page: NewPage) -> None:
    floor, base = live
    page = new_page(timeout_ms=INLINE_JOBS_MS)
    sign_in(page, base, _person(floor, Role.CUSTOMER))
    order_id = _order_in_browser(page, base)
    expect(page.locator("#cancel-order")).to_be_visible()
    page.fill("#cancel-order input[name=reason]", "ordered the wrong size")
    page.locator("#cancel-order button[type=submit]").click()
    expect(page.locator("#order-status")).to_have_attribute("data-status", "cancelled")
    expect(page.locator("body")).to_contain_text("You cancelled this order: ordered the wrong size")
    expect(page.locator("#cancel-order")).to_have_count(0)
    _shot(page, live, "1-cancelled")
    assert floor.order_status(order_id) == Status.CANCELLED


def test_a_customer_orders_and_follows_it_to_delivered(
    live: tuple[Floor, str], new_page: NewPage
) -> None:
    floor, base = live
    page = new_page(timeout_ms=INLINE_JOBS_MS)
    sign_in(page, base, _person(floor, Role.CUSTOMER))
    order_id = _order_in_browser(page, base)
    jobs = _to_the_hands(floor, order_id)
    for job, machine, _ in jobs:
        if machine in HANDS:
            _report(floor, job, "started")
            _report(floor, job, "completed")
    assert floor.order_status(order_id) == Status.COMPLETED
    with floor.ctx.db.transaction() as s:
        ship_order(s, order_id, "TCS", "TRK-555", STAFF)
    page.goto(f"{base}/orders/{order_id}")
    expect(page.locator("#order-status")).to_contain_text("Shipped with TCS, tracking TRK-555")
    with floor.ctx.db.transaction() as s:
        deliver_order(s, order_id, STAFF)
    page.goto(f"{base}/orders")
    page.locator(f"a[href='/orders/{order_id}']").first.click()
    expect(page.locator("#order-status")).to_have_attribute("data-status", "delivered")
    expect(page.locator("#order-status")).to_contain_text("Delivered (sent with TCS, tracking")
    expect(page.locator("#delivery-note")).to_be_visible()
    expect(page.locator("#cancel-order")).to_have_count(0)
    _shot(page, live, "2-delivered")


def test_admin_adds_an_operator_who_does_qc_and_pack_and_the_desk_ships(
    live: tuple[Floor, str], new_page: NewPage
) -> None:
    floor, base = live
    customer = new_page(timeout_ms=INLINE_JOBS_MS)
    sign_in(customer, base, _person(floor, Role.CUSTOMER))
    order_id = _order_in_browser(customer, base)

    admin = new_page(timeout_ms=INLINE_JOBS_MS)
    sign_in(admin, base, _person(floor, Role.ADMIN))
    admin.goto(f"{base}/admin/users")
    email = f"sana-{uuid.uuid4().hex[:6]}@example.com"
    add = admin.locator("form[action='/admin/users']")
    add.locator("input[name=email]").fill(email)
    add.locator("input[name=display_name]").fill("Sana")
    add.locator("select[name=role]").select_option("operator")
    add.locator("select[name=stations]").select_option(list(HANDS))
    add.locator("button[type=submit]").click()
    notice = admin.locator("#one-time-password")
    expect(notice).to_contain_text(email)
    first = ONE_TIME.search(notice.inner_html())
    assert first, notice.inner_html()
    row = admin.locator("tr", has_text=email)
    expect(row).to_contain_text("pack-01, qc-01")
    # the operator lost the paper: the admin resets it (a generated one, shown once)
    row.locator("form[action$='/password'] button[type=submit]").click()
    expect(notice).to_contain_text(email)
    second = ONE_TIME.search(notice.inner_html())
    assert second and second.group(1) != first.group(1)
    _shot(admin, live, "3-admin")

    operator = new_page(timeout_ms=INLINE_JOBS_MS)
    sign_in(operator, base, email, first.group(1))  # the reset replaced this one
    expect(operator).to_have_url(re.compile(r"/login"))
    sign_in(operator, base, email, second.group(1))
    expect(operator).to_have_url(re.compile(r"/account/password"))
    operator.fill("input[name=current_password]", second.group(1))
    operator.fill("input[name=password]", "sana's own long passphrase")
    operator.fill("input[name=password_again]", "sana's own long passphrase")
    operator.locator("form[action^='/account/password'] button[type=submit]").click()
    operator.goto(f"{base}/operator/")
    expect(operator.locator("a[href='/operator/station/qc-01']")).to_be_visible()
    expect(operator.locator("a[href='/operator/station/pack-01']")).to_be_visible()
    expect(operator.locator("a[href='/operator/station/fdm-mk4-01']")).to_have_count(0)

    jobs = _to_the_hands(floor, order_id)
    for station in HANDS:
        job = next(j for j, machine, _ in jobs if machine == station)
        operator.goto(f"{base}/operator/station/{station}")
        operator.locator(f"#job-{job} header a").click()
        operator.locator("button[data-action=start]").click()
        expect(operator.locator("button[data-action=complete]")).to_be_visible()
        _shot(operator, live, f"4-{station}")
        operator.locator("button[data-action=complete]").click()
        expect(operator.locator("button[data-action=complete]")).to_have_count(0)
    assert floor.order_status(order_id) == Status.COMPLETED

    desk = new_page(timeout_ms=INLINE_JOBS_MS)
    sign_in(desk, base, _person(floor, Role.PLANNER))
    desk.goto(f"{base}/planner/shipping")
    ready = desk.locator(f"#ready-{order_id}")
    ready.locator("input[name=carrier]").fill("TCS")
    ready.locator("input[name=tracking_number]").fill("TRK-777")
    ready.locator("button[type=submit]").click()
    expect(desk.locator(f"#transit-{order_id}")).to_be_visible()
    _shot(desk, live, "5-shipped")
    assert floor.order_status(order_id) == Status.SHIPPED
    customer.goto(f"{base}/orders/{order_id}")
    expect(customer.locator("#order-status")).to_contain_text("Shipped with TCS, tracking TRK-777")


def test_the_configurator_for_visitors_and_across_the_login(
    live: tuple[Floor, str], new_page: NewPage
) -> None:
    floor, base = live
    page = new_page(timeout_ms=INLINE_JOBS_MS)
    # the process narrows the materials, the material the colours; a standard size fills in
    page.goto(f"{base}/shop/pipe_flange")
    expect(page.locator("#quote-total")).to_be_visible(timeout=30_000)
    page.select_option("#p-process", "fdm")
    materials = page.locator("#p-material option").evaluate_all("os => os.map(o => o.value)")
    assert materials and "aluminium_6061" not in materials, materials
    page.select_option("#p-material", "abs")
    colours = page.locator("#p-colour option").evaluate_all("os => os.map(o => o.value)")
    family = page.evaluate("JSON.parse(document.getElementById('family-data').textContent)")
    assert colours == family["material_info"]["abs"]["colours"]
    page.select_option("#p-nominal_size", "dn80")
    dn80 = family["standards"]["nominal_size"]["dn80"]
    for name, value in dn80.items():
        assert float(page.input_value(f"#p-{name}")) == float(value), name
    # an invalid field: readable text beside it, and the preview says so
    page.fill("#p-thickness", "1")
    expect(page.locator('[data-error-for="thickness"]')).not_to_be_empty(timeout=30_000)
    expect(page.locator("#preview-state")).to_have_text(
        "Fix the highlighted field to update the 3D preview."
    )
    expect(page.locator("#preview")).to_have_attribute("data-stale", "true")
    expect(page.locator("#add-to-cart")).to_be_disabled()
    _shot(page, live, "6-invalid-field")

    # an anonymous visitor sees the live 3D preview of the enclosure
    page.goto(f"{base}/shop/enclosure")
    viewer = page.locator("#preview")
    expect(viewer).to_have_attribute("data-loaded", "true", timeout=180_000)
    expect(page.locator("#preview-state")).to_contain_text("up to date", timeout=180_000)
    assert viewer.get_attribute("src", timeout=1000).startswith("/api/preview/")
    # a design no machine can make: no price, no date, no preview
    page.select_option("#p-process", "resin")
    page.fill("#p-inner_length", "250")
    expect(page.locator("#infeasible")).to_be_visible(timeout=30_000)
    expect(page.locator("#quote-total")).to_have_count(0)
    expect(page.locator("#ship-date")).to_have_count(0)
    expect(page.locator("#preview-state")).to_contain_text("cannot be made")
    expect(viewer).to_have_attribute("data-stale", "true")
    _shot(page, live, "7-cannot-be-made")

    # add to cart while anonymous: sign in, and the design is back as it was
    design_enclosure(page, base, "3", "90", 2)
    page.click("#add-to-cart")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    sign_in(page, base, _person(floor, Role.CUSTOMER))
    expect(page).to_have_url(re.compile(r"/shop/enclosure\?"))
    assert float(page.input_value("#p-wall")) == 3.0
    assert float(page.input_value("#p-inner_length")) == 90.0
    assert page.input_value("#qty") == "2"
    expect(page.locator("#quote-total")).to_be_visible(timeout=30_000)
    page.click("#add-to-cart")
    expect(page).to_have_url(f"{base}/cart")
    expect(page.locator("a.quote-pdf")).to_have_attribute("href", re.compile(r"quantity=2\b"))
    _shot(page, live, "8-cart-after-login")
