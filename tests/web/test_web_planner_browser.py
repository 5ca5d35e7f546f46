"""The whole planner and operator path in a real browser (Playwright + Debian's Chromium) against
PostgreSQL and a real Redis with RQ worker processes on the `cad` and `plan` queues:

a planner proposes, watches the solve, sees the Gantt and approves and releases; an operator
starts and completes the job and scraps one part while the planner's board updates live; the
customer's order page shows the new state and the re-queued part; a machine is marked down and
the planner gets a rescheduling proposal. Screenshots go to test-artifacts/planner/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import (  # noqa: F401  (the browser and new_page fixtures)
    ARTIFACTS,
    NewPage,
    browser_fixture,
    new_page_fixture,
    propose_plan,
    served,
    sign_in,
)
from floor_helpers import Floor, MakeFloor
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from orders.models import Operation, OrderLine, Role, User
from services import publish_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
SHOTS = ARTIFACTS / "planner"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def live(make_floor: MakeFloor, redis_url: str, tmp_path: Path) -> Iterator[tuple[Floor, str]]:
    """The app on PostgreSQL with a database of its own on the session's private Redis, so no
    other test's worker takes our jobs."""
    floor = make_floor("postgresql", redis_url=redis_url)
    s = floor.ctx.settings
    env = {
        **os.environ,
        "HUNAR_DATABASE_URL": s.database_url,
        "HUNAR_REDIS_URL": redis_url,
        "HUNAR_VAR_DIR": str(s.var_dir),
        "HUNAR_ARTIFACT_DIR": str(s.resolved_artifact_dir()),
        "PYTHONPATH": str(REPO),
    }
    logs = [open(tmp_path / f"worker-{queue}.log", "w") for queue in ("cad", "plan")]  # noqa: SIM115
    # One worker per queue, so a solve never waits behind CAD builds.
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "orders.cli", "worker", queue],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for queue, log in zip(("cad", "plan"), logs, strict=True)
    ]
    try:
        with served(floor.app) as base:
            yield floor, base
    finally:
        for worker in workers:
            worker.terminate()
        for worker, log in zip(workers, logs, strict=True):
            worker.wait(timeout=30)
            log.close()


def _page(new_page: NewPage, base: str, email: str, width: int = 1280) -> Page:
    page = new_page(width)
    sign_in(page, base, email)
    return page


def _user(floor: Floor, role: Role, station: str | None = None) -> str:
    return floor.person(role, station)[1]


def _wait_for_operations(floor: Floor, n_lines: int, timeout: float = 240) -> None:
    """CAD runs in the worker process: wait until every line has its operations."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with floor.ctx.db.sessions() as s:
            lines = s.scalar(select(func.count(func.distinct(Operation.order_line_id))))
        if lines >= n_lines:
            return
        time.sleep(0.5)
    raise AssertionError("the CAD worker did not produce operations in time (see worker-cad.log)")


def test_planner_and_operator_path_in_a_real_browser(
    live: tuple[Floor, str], new_page: NewPage
) -> None:
    floor, base = live
    oid = floor.place(2, "express")
    _wait_for_operations(floor, 1)
    planner = _page(new_page, base, _user(floor, Role.PLANNER))

    propose_plan(planner, base, oid)
    expect(planner.locator("#solver-status")).to_be_visible(timeout=60_000)
    expect(planner.locator("#gantt")).to_have_attribute("data-ready", "true", timeout=20_000)
    expect(planner.locator("#gantt .vis-item.op").first).to_be_visible(timeout=20_000)
    expect(planner.locator("#kpis")).to_contain_text("On-time %")
    planner.click("#zoom-week")
    expect(planner.locator("#gantt")).to_have_attribute("data-zoom", "week")
    planner.screenshot(path=str(SHOTS / "1-proposal.png"), full_page=True)
    publish_screenshot(SHOTS / "1-proposal.png", "planner-gantt.png")
    planner.click("#approve")
    planner.click("#release")
    expect(planner.locator("#plan-state")).to_have_text("released")
    planner.screenshot(path=str(SHOTS / "2-released.png"), full_page=True)

    job, machine, op_id = floor.first_job()
    operator = _page(new_page, base, _user(floor, Role.OPERATOR, machine), width=800)
    planner.goto(f"{base}/planner/")  # the board stays open and must update by itself
    operator.goto(f"{base}/operator/")
    card = operator.locator(f"#job-{job}")
    expect(card).to_have_attribute("data-status", "released")
    operator.screenshot(path=str(SHOTS / "3-station.png"), full_page=True)
    card.locator("button[data-action=start]").click()
    expect(operator.locator(f"#job-{job}")).to_have_attribute("data-status", "running")
    expect(planner.locator(f"#order-{oid} li[data-status=in_production]").first).to_be_visible(
        timeout=10_000
    )
    operator.locator(f"#job-{job} button[data-action=complete]").click()
    expect(operator.locator(f"#job-{job}")).to_have_count(0)
    operator.goto(f"{base}/operator/job/{job}")  # what scanning the traveler's QR opens
    expect(operator.locator("#job-status")).to_have_text("done")
    operator.fill("form.scrap input[name=reason]", "warped corner")
    operator.click("form.scrap button[data-action=scrap]")
    expect(operator.locator(".flashes")).to_contain_text("re-queued 1")
    operator.screenshot(path=str(SHOTS / "4-scrapped.png"), full_page=True)
    expect(planner.locator(f"#order-{oid} li:has-text('remake of')")).to_be_visible(timeout=10_000)

    with floor.ctx.db.sessions() as s:
        line = s.get_one(OrderLine, s.get_one(Operation, op_id).order_line_id)
        customer = s.get_one(User, line.order.customer_id).email
    shopper = _page(new_page, base, customer)
    shopper.goto(f"{base}/orders/{oid}")
    expect(shopper.locator("#order-status")).to_contain_text("We are making your part")
    expect(shopper.locator("section.line .notice")).to_contain_text("did not pass our checks")
    expect(shopper.locator("section.line")).to_have_count(2)  # the original and the re-queued part
    shopper.screenshot(path=str(SHOTS / "5-customer.png"), full_page=True)

    planner.goto(f"{base}/planner/machines")
    row = planner.locator("#machine-fdm-mk4-03")
    row.locator("input[name=reason]").fill("nozzle clog")
    row.locator("button#down-fdm-mk4-03").click()
    expect(planner.locator(".notice")).to_contain_text("fdm-mk4-03 down")
    expect(planner.locator("#solver-status")).to_be_visible(timeout=60_000)
    expect(planner.locator("#gantt")).to_have_attribute("data-ready", "true", timeout=20_000)
    expect(planner.locator(".vis-label.lane-down")).to_contain_text("down")
    planner.screenshot(path=str(SHOTS / "6-reschedule.png"), full_page=True)
