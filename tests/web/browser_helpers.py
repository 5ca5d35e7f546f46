"""Browser-test plumbing shared by the Playwright tests: Debian's Chromium and its flags, one
browser per module, pages that fail their test on any script error, an app served on a free
port (one per engine for a module), and steps several tests take: sign up, sign in, design an
enclosure, propose a plan.

Test modules import the fixtures by their function names (pytest registers `browser_fixture` as
`browser`, `new_page_fixture` as `new_page`, `live_fixture` as `live`), as with
`webshop_helpers.shop_fixture`.
Screenshot folders need no mkdir: Playwright creates a screenshot's folder itself.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from floor_helpers import PASSWORD, Floor, module_floor
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-unsafe-swiftshader",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # git-ignored

NewPage = Callable[..., Page]
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(name="browser", scope="module")
def browser_fixture() -> Iterator[Browser]:
    """One headless Chromium for the module (each page gets its own context)."""
    assert Path(CHROMIUM).exists(), f"Chromium is missing at {CHROMIUM} (apt-get install chromium)"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(name="new_page")
def new_page_fixture(browser: Browser) -> Iterator[NewPage]:
    """Factory: a page in a fresh context (one person each: own cookies). A script error on any
    page fails the test. `timeout_ms` sets the page's default wait (Playwright's 30 s if None)."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def make(width: int = 1280, timeout_ms: float | None = None) -> Page:
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        page = context.new_page()
        if timeout_ms is not None:
            page.set_default_timeout(timeout_ms)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, errors


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """The app on a free local port in a thread of this process; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(name="live_settings", scope="module")
def live_settings_fixture() -> dict[str, Any]:
    """Settings the module's app gets on top of floor_helpers' (a module may define its own)."""
    return {}


@pytest.fixture(name="live", scope="module", params=ENGINES)
def live_fixture(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    artifact_cache: Path,
    live_settings: dict[str, Any],
) -> Iterator[tuple[Floor, str]]:
    """One seeded app per engine for the module (CAD in-process, no rate limits) served on a
    free port: (floor, base URL). Its databases are named after the module."""
    prefix = request.module.__name__.removeprefix("test_web_").removesuffix("_browser")
    floors = module_floor(
        request, tmp_path_factory, sqlite_template, artifact_cache, prefix, **live_settings
    )
    floor = next(floors)
    try:
        with served(floor.app) as base:
            yield floor, base
    finally:
        next(floors, None)


def sign_in(page: Page, base: str, email: str, password: str = PASSWORD) -> None:
    """Fill the login form (opening it unless the page is already there) and submit it."""
    if "/login" not in page.url:
        page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_load_state()


def sign_up(page: Page, base: str, name: str) -> str:
    """A visitor creates an account on the sign-up page (and is signed in); returns the
    e-mail."""
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(f"{base}/signup")
    page.fill("input[name=email]", email)
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", "a long enough password")
    page.click("#signup-form button[type=submit]")
    expect(page.locator(".flashes")).to_contain_text("Welcome")
    return email


def design_enclosure(page: Page, base: str, wall: str, inner_length: str, qty: int) -> None:
    """On the enclosure's configurator: set the wall, the inner length and the quantity, and
    wait for the quote of that many pieces."""
    page.goto(f"{base}/shop/enclosure")
    expect(page.locator("#quote-total")).to_be_visible(timeout=30_000)
    page.fill("#p-wall", wall)
    page.fill("#p-inner_length", inner_length)
    page.fill("#qty", str(qty))
    expect(page.locator("#quote")).to_contain_text(f"{qty} pcs", timeout=30_000)


def propose_plan(planner: Page, base: str, order_id: int, seconds: int = 3) -> None:
    """On the planner's board, with the order on it: propose a due-date plan solved for
    `seconds`; the page moves to the proposal."""
    planner.goto(f"{base}/planner/")
    expect(planner.locator(f"#order-{order_id}")).to_be_visible()
    planner.select_option("#objective", "due_dates")
    planner.fill("#time-limit", str(seconds))
    planner.click("#propose")
    expect(planner.locator("#plan-status")).to_have_attribute("data-state", "proposed")


def engine_shot(page: Page, folder: str, ctx: Any, name: str) -> None:
    """A full-page screenshot at test-artifacts/<folder>/<engine>-<name>.png (`ctx`: the
    app's AppContext, whose database URL names the engine)."""
    engine = "pg" if "postgresql" in ctx.settings.database_url else "sqlite"
    page.screenshot(path=str(ARTIFACTS / folder / f"{engine}-{name}.png"), full_page=True)
