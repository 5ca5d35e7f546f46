"""Urdu pages in a real browser (Playwright + Debian's Chromium, its locale ur-PK): the catalogue
and the configurator right to left in the locally served Noto Naskh Arabic, money kept left to
right, and the language switch both ways. `make screenshots` publishes the two pages to
docs/screenshots (catalogue-ur.png, configurator-ur.png); screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_helpers import ARTIFACTS, browser_fixture, served  # noqa: F401  (the browser fixture)
from playwright.sync_api import Browser, Page, expect
from webshop_helpers import MakeShop, WebShop, shop_fixture  # noqa: F401  (the make_shop fixture)

from services import publish_screenshot

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "web"
URDU_FONT_LOADED = (
    "async () => { await document.fonts.ready; return [...document.fonts]"
    ".filter(f => f.family.includes('Hunar Urdu') && f.status === 'loaded').length; }"
)


@pytest.fixture
def live_shop(make_shop: MakeShop) -> Iterator[tuple[WebShop, str]]:
    shop = make_shop()
    with served(shop.app) as base:
        yield shop, base


@pytest.fixture
def urdu_page(browser: Browser) -> Iterator[Page]:
    """A visitor whose browser asks for Urdu (Accept-Language: ur-PK); a script error fails."""
    context = browser.new_context(locale="ur-PK", viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, errors


def test_urdu_catalogue_and_configurator_read_right_to_left(
    live_shop: tuple[WebShop, str], urdu_page: Page
) -> None:
    _, base = live_shop
    page = urdu_page
    page.goto(f"{base}/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "ur")
    expect(html).to_have_attribute("dir", "rtl")
    expect(page.locator("header.top nav")).to_contain_text("کیٹلاگ")
    assert page.evaluate(URDU_FONT_LOADED) >= 1, "the Urdu font did not load from /static"
    brand = page.locator(".brand").bounding_box()
    assert brand is not None and brand["x"] > 640, "the header is not mirrored"
    page.screenshot(path=str(SHOTS / "ur-catalogue.png"), full_page=True)
    publish_screenshot(SHOTS / "ur-catalogue.png", "catalogue-ur.png")

    page.goto(f"{base}/shop/enclosure")
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("#update-quote")).to_have_text("قیمت تازہ کریں")
    total = page.locator("#quote-total")
    expect(total).to_be_visible(timeout=30_000)
    assert total.evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
    expect(page.locator("#preview")).to_have_attribute("data-loaded", "true", timeout=240_000)
    page.wait_for_timeout(3000)  # let model-viewer finish its first frames
    page.screenshot(path=str(SHOTS / "ur-configurator.png"), full_page=True)
    publish_screenshot(SHOTS / "ur-configurator.png", "configurator-ur.png")


def test_the_switch_goes_to_english_and_back(
    live_shop: tuple[WebShop, str], urdu_page: Page
) -> None:
    _, base = live_shop
    page = urdu_page
    page.goto(f"{base}/login")
    page.locator("#language-switch button[value=en]").click()
    expect(page).to_have_url(f"{base}/login")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.goto(f"{base}/")  # the cookie beats the browser's Urdu
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("#language-switch button[value=ur]").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
