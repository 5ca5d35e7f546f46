"""A new customer in a real browser (Playwright + Debian's Chromium): sign up, configure an
enclosure (invalid then valid wall), see the error, the quote and the 3D preview, order, track.

Screenshots go to test-artifacts/web/ at the repo root (git-ignored).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import (  # noqa: F401  (the browser and new_page fixtures)
    ARTIFACTS,
    NewPage,
    browser_fixture,
    new_page_fixture,
    served,
    sign_up,
)
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select
from test_web_preview import held_exports_fixture  # noqa: F401  (the held_exports fixture)
from webshop_helpers import MakeShop, WebShop, shop_fixture  # noqa: F401  (the make_shop fixture)

from orders.models import JobRecord, JobState
from services import publish_screenshot

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "web"


@pytest.fixture
def live_shop(make_shop: MakeShop, tmp_path: Path) -> Iterator[tuple[WebShop, str]]:
    shop = make_shop(artifact_dir=tmp_path / "artifacts")  # the page watches a real build
    with served(shop.app) as base:
        yield shop, base


@pytest.fixture
def page(new_page: NewPage) -> Page:
    return new_page()


def _distinct_colours(png: bytes) -> int:
    img = Image.open(io.BytesIO(png)).convert("RGB").resize((120, 120))
    return len(set(img.get_flattened_data()))


def test_new_customer_signs_up_configures_orders_and_follows(
    live_shop: tuple[WebShop, str], page: Page
) -> None:
    _, base = live_shop
    sign_up(page, base, "Ayesha")
    page.goto(f"{base}/shop/enclosure")
    expect(page.locator("#quote-total")).to_be_visible(timeout=30_000)
    page.fill("#p-wall", "0.2")
    error = page.locator('[data-error-for="wall"]')
    expect(error).to_contain_text("outside", timeout=30_000)
    expect(page.locator("#add-to-cart")).to_be_disabled()
    page.screenshot(path=str(SHOTS / "1-invalid-wall.png"), full_page=True)

    page.fill("#p-wall", "2.5")
    expect(error).to_have_text("", timeout=30_000)
    expect(page.locator("#quote-total")).to_be_visible()
    expect(page.locator("#quote-source")).to_contain_text("analytic")
    expect(page.locator("#ship-date")).to_be_visible()
    expect(page.locator("#add-to-cart")).to_be_enabled()

    viewer = page.locator("#preview")
    expect(viewer).to_have_attribute("data-loaded", "true", timeout=240_000)
    expect(page.locator("#preview-state")).to_contain_text("up to date", timeout=240_000)
    page.wait_for_timeout(1500)  # let model-viewer finish its first frames
    shot = viewer.screenshot(path=str(SHOTS / "2-preview.png"))
    assert _distinct_colours(shot) > 20, "the 3D preview canvas is blank"
    expect(page.locator("#quote-source")).to_contain_text("measured", timeout=30_000)
    page.screenshot(path=str(SHOTS / "3-valid-quote.png"), full_page=True)
    publish_screenshot(SHOTS / "3-valid-quote.png", "configurator.png")

    page.click("#add-to-cart")
    expect(page).to_have_url(f"{base}/cart")
    page.click("#place-order")
    expect(page.locator("#confirmation")).to_be_visible()
    page.screenshot(path=str(SHOTS / "4-confirmation.png"), full_page=True)

    page.goto(f"{base}/orders")
    page.locator("table a").first.click()
    expect(page.locator('li[data-status="placed"]')).to_have_class("done")
    # the design was built for the preview, so the order's CAD request is a cache hit and the
    # order is already past "placed" when the page opens
    expect(page.locator('li[data-status="cad_ready"]')).to_have_class("done")
    expect(page.locator("#order-status")).to_contain_text("Your design is checked and ready")
    page.screenshot(path=str(SHOTS / "5-tracking.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("a.download", has_text="STEP").click()
    assert download.value.suggested_filename.endswith(".step")
    assert Path(download.value.path()).read_bytes().startswith(b"ISO-10303-21")
    page.goto(f"{base}/")  # the default enclosure was built above: its drawn thumbnail shows
    thumb = page.locator('[data-family="enclosure"] img')
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=str(SHOTS / "6-catalogue.png"), full_page=True)


def test_the_page_shows_the_model_before_the_manufacturing_files_exist(
    live_shop: tuple[WebShop, str], page: Page, held_exports: threading.Event
) -> None:
    """The CAD job is held after its GLB (see `held_exports`), so the model can only be on
    screen if the page shows it while the job still runs; then the job finishes as usual."""
    shop, base = live_shop
    sign_up(page, base, "Ayesha")
    page.goto(f"{base}/shop/enclosure")  # the default design is valid: its preview starts
    viewer = page.locator("#preview")
    expect(viewer).to_have_attribute("data-loaded", "true", timeout=120_000)
    expect(page.locator("#preview-state")).to_contain_text("preparing manufacturing files")
    assert not held_exports.is_set()
    with shop.ctx.db.sessions() as s:
        states = s.scalars(select(JobRecord.state).where(JobRecord.func.contains("build_"))).all()
    assert states == [JobState.STARTED]  # the CAD job is still running
    expect(page.locator("#quote-source")).to_contain_text("analytic")
    held_exports.set()
    expect(page.locator("#preview-state")).to_contain_text("up to date", timeout=120_000)
    expect(viewer).to_have_attribute("data-loaded", "true")
    expect(page.locator("#quote-source")).to_contain_text("measured", timeout=30_000)


def test_api_docs_render_offline_under_the_csp(live_shop: tuple[WebShop, str], page: Page) -> None:
    _, base = live_shop
    page.goto(f"{base}/api/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
    assert page.locator(".opblock").count() >= 12
    page.screenshot(path=str(SHOTS / "7-api-docs.png"))
