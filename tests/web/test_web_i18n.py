"""English and Urdu pages (issue 15, "two languages, both directions"): the page language comes
from the person's saved choice, else a visitor's cookie, else Accept-Language, else English;
Urdu pages are right to left; every wrapped string has an Urdu translation, and the translated
templates carry no English outside `_()`."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from webshop_helpers import PASSWORD, MakeShop, csrf_of, shop_fixture  # noqa: F401

from orders.commands.accounts import set_language
from orders.errors import DomainError
from orders.models import Role, User
from web.i18n import COOKIE

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
CATALOGUES = WEB / "translations"
URDU_PAGE = '<html lang="ur" dir="rtl">'
ENGLISH_PAGE = '<html lang="en" dir="ltr">'
URDU_CATALOGUE = "کیٹلاگ"  # the nav's "Catalogue"
URDU_SIGN_IN = "سائن اِن"


def _page(client, url: str = "/", **headers: str) -> str:  # type: ignore[no-untyped-def]
    resp = client.get(url, headers=headers)
    assert resp.status_code == 200, resp.status_code
    return str(resp.get_data(as_text=True))


# --- choosing the language ---------------------------------------------------------------------


def test_accept_language_ur_gives_a_right_to_left_urdu_page(make_shop: MakeShop) -> None:
    client = make_shop().app.test_client()
    page = _page(client, "/", **{"Accept-Language": "ur-PK,ur;q=0.9,en;q=0.5"})
    assert URDU_PAGE in page
    assert URDU_CATALOGUE in page and URDU_SIGN_IN in page
    vary = client.get("/", headers={"Accept-Language": "ur"}).vary
    assert "Accept-Language" in vary and "Cookie" in vary  # caches keep one copy per language
    assert ">Catalogue<" not in page
    login = _page(client, "/login", **{"Accept-Language": "ur"})
    assert URDU_PAGE in login and "پاس ورڈ" in login  # the form's labels too


@pytest.mark.parametrize("header", ["en-US,en;q=0.9", "fr-FR,fr;q=0.8", ""])
def test_other_browsers_get_english(make_shop: MakeShop, header: str) -> None:
    page = _page(make_shop().app.test_client(), "/", **{"Accept-Language": header})
    assert ENGLISH_PAGE in page and ">Catalogue<" in page and URDU_CATALOGUE not in page


def test_a_visitors_switch_is_a_cookie_that_beats_the_browser(make_shop: MakeShop) -> None:
    client = make_shop().app.test_client()
    token = csrf_of(_page(client, "/login"))
    resp = client.post(
        "/language",
        data={"csrf_token": token, "language": "ur"},
        headers={"Referer": "http://localhost/login?next=/orders"},
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/login?next=/orders"
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith(COOKIE))
    assert f"{COOKIE}=ur" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert URDU_PAGE in _page(client, "/login", **{"Accept-Language": "en"})
    resp = client.post("/language", data={"csrf_token": token, "language": "en"})
    assert resp.headers["Location"] == "/"  # no page it came from: back to the catalogue
    assert ENGLISH_PAGE in _page(client, "/", **{"Accept-Language": "ur"})


def test_a_signed_in_choice_is_saved_and_survives_a_new_session(make_shop: MakeShop) -> None:
    shop = make_shop()
    me = shop.shopper()
    resp = me.post_form(
        "/language", {"language": "ur"}, headers={"Referer": "http://localhost/orders"}
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/orders"
    with shop.ctx.db.sessions() as s:
        assert s.get_one(User, me.user_id).language == "ur"
    fresh = shop.app.test_client()  # another device: no cookie, an English browser
    token = csrf_of(_page(fresh, "/login"))
    signed = fresh.post(
        "/login", data={"csrf_token": token, "email": me.email, "password": PASSWORD}
    )
    assert signed.status_code == 302
    fresh.delete_cookie(COOKIE)
    page = _page(fresh, "/orders", **{"Accept-Language": "en"})
    assert URDU_PAGE in page and "میرے آرڈر" in page
    fresh.set_cookie(COOKIE, "en")  # the saved choice beats a cookie left on the device
    assert URDU_PAGE in _page(fresh, "/orders")


@pytest.mark.parametrize("sent", [{"language": "fr"}, {"language": "UR"}, {}])
def test_an_unknown_language_is_a_422_naming_language(make_shop: MakeShop, sent: dict) -> None:
    shop = make_shop()
    me = shop.shopper()
    resp = me.post_form("/language", sent, headers={"Accept": "application/json"})
    assert resp.status_code == 422
    assert "language" in resp.json["error"]["fields"], resp.json
    page = me.post_form("/language", sent)
    assert page.status_code == 422 and "language" in page.get_data(as_text=True)
    assert not any(c.startswith(COOKIE) for c in page.headers.getlist("Set-Cookie"))
    with shop.ctx.db.sessions() as s:
        assert s.get_one(User, me.user_id).language is None


def test_the_order_book_keeps_one_choice_and_refuses_others(make_shop: MakeShop) -> None:
    shop = make_shop()
    uid = shop.user()
    with shop.ctx.db.transaction() as s:
        assert set_language(s, uid, "ur") is True
    with shop.ctx.db.transaction() as s:
        assert set_language(s, uid, "ur") is False  # the same choice again changes nothing
    with pytest.raises(DomainError) as refused, shop.ctx.db.transaction() as s:
        set_language(s, uid, "fr")
    assert "language" in refused.value.fields
    with shop.ctx.db.sessions() as s:
        assert s.get_one(User, uid).language == "ur"


@pytest.mark.parametrize(
    "referrer", ["https://evil.example/x", "http://localhost.evil.example/", "http://localhost//e"]
)
def test_the_switch_only_goes_back_to_this_site(make_shop: MakeShop, referrer: str) -> None:
    client = make_shop().app.test_client()
    token = csrf_of(_page(client, "/login"))
    data = {"csrf_token": token, "language": "ur"}
    resp = client.post("/language", data=data, headers={"Referer": referrer})
    assert resp.status_code == 303 and resp.headers["Location"] == "/"


def test_the_cached_catalogue_is_per_language_with_each_visitors_own_token(
    make_shop: MakeShop,
) -> None:
    """The anonymous catalogue is rendered once per 10 s: an Urdu visitor must not get the
    English copy, and the switch's CSRF token on a cached copy must be the reader's own."""
    app = make_shop().app
    first, second = app.test_client(), app.test_client()
    assert ENGLISH_PAGE in _page(first, "/")
    assert URDU_PAGE in _page(second, "/", **{"Accept-Language": "ur"})
    third = app.test_client()
    cached = _page(third, "/")
    assert ENGLISH_PAGE in cached
    resp = third.post("/language", data={"csrf_token": csrf_of(cached), "language": "ur"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]


def test_operator_pages_follow_the_choice(make_shop: MakeShop) -> None:
    shop = make_shop()
    operator = shop.shopper(Role.OPERATOR)
    operator.post_form("/language", {"language": "ur"})
    page = _page(operator.client, "/operator/")
    assert URDU_PAGE in page and "ورکشاپ" in page and "اسٹیشن" in page


def test_the_stations_live_queue_is_a_new_version_in_another_language(
    make_shop: MakeShop,
) -> None:
    """The station page polls its queue with If-None-Match: after a switch the old-language
    copy must not be reported as still current."""
    shop = make_shop()
    operator = shop.shopper(Role.ADMIN)  # the admin may watch every station
    url = "/operator/station/qc-01/live"
    english = operator.client.get(url)
    assert english.status_code == 200 and "ETag" in english.headers
    same = operator.client.get(url, headers={"If-None-Match": english.headers["ETag"]})
    assert same.status_code == 304
    operator.post_form("/language", {"language": "ur"})
    urdu = operator.client.get(url, headers={"If-None-Match": english.headers["ETag"]})
    assert urdu.status_code == 200 and "ابھی" in urdu.get_data(as_text=True)


def test_the_urdu_font_is_served_locally(make_shop: MakeShop) -> None:
    """`make install` copies Noto Naskh Arabic from Debian's fonts-noto-core into the static
    vendor folder; hunar.css names it for Urdu pages only."""
    client = make_shop().app.test_client()
    css = client.get("/static/css/hunar.css").get_data(as_text=True)
    assert "NotoNaskhArabic-Regular.ttf" in css and ":lang(ur)" in css
    font = client.get("/static/vendor/fonts/NotoNaskhArabic-Regular.ttf")
    assert font.status_code == 200 and len(font.data) > 50_000


def test_text_made_outside_a_request_is_english(make_shop: MakeShop) -> None:
    from flask_babel import gettext

    with make_shop().app.app_context():
        assert gettext("Cart") == "Cart"
    with make_shop().app.test_request_context("/", headers={"Accept-Language": "ur"}):
        assert gettext("Cart") == "ٹوکری"


# --- the catalogues ----------------------------------------------------------------------------


def _extracted() -> set[str]:
    """What `pybabel extract -F babel.cfg web` finds now, whether or not the .pot was updated."""
    method_map, options_map = parse_mapping_cfg((REPO / "babel.cfg").open())
    return {
        msg[2] if isinstance(msg[2], str) else msg[2][0]
        for msg in extract_from_dir(str(WEB), method_map, options_map)
    }


def _catalogue(path: Path, locale: str | None = None):  # type: ignore[no-untyped-def]
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def test_every_wrapped_string_has_an_urdu_translation() -> None:
    template = {m.id for m in _catalogue(CATALOGUES / "messages.pot") if m.id}
    assert _extracted() <= template, "run pybabel extract (see web/i18n.py): the .pot is stale"
    urdu = {m.id: m for m in _catalogue(CATALOGUES / "ur/LC_MESSAGES/messages.po", "ur") if m.id}
    untranslated = sorted(
        mid for mid in template if mid not in urdu or not urdu[mid].string or urdu[mid].fuzzy
    )
    assert untranslated == [], f"strings without an Urdu translation: {untranslated}"
    for mid in template:
        wanted = set(re.findall(r"%\(\w+\)s", str(mid)))
        assert set(re.findall(r"%\(\w+\)s", str(urdu[mid].string))) == wanted, mid
    assert len(template) >= 100


def test_the_urdu_catalogue_is_compiled() -> None:
    """`make install` compiles the .po into the .mo Flask-Babel reads."""
    po = CATALOGUES / "ur/LC_MESSAGES/messages.po"
    mo = po.with_suffix(".mo")
    assert mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime, "run `make install`"


# The templates translated so far (planner and admin pages, cart.html and order.html are not yet).
TRANSLATED = (
    "layout.html",
    "index.html",
    "error.html",
    "shop/_quote.html",
    "shop/account.html",
    "shop/configure.html",
    "shop/forgot.html",
    "shop/login.html",
    "shop/orders.html",
    "shop/password.html",
    "shop/reset.html",
    "shop/signup.html",
    "operator/_bed.html",
    "operator/_buttons.html",
    "operator/_queue.html",
    "operator/home.html",
    "operator/job.html",
    "operator/plate_clear.html",
    "operator/station.html",
)
# Text people read that is the same in both languages: language names, the code in <code>
# (skipped whole), technical abbreviations.
ALLOWED = frozenset({"English", "QC", "QR", "API", "ERP", "PKT"})
JINJA = re.compile(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", re.S)
VISIBLE_ATTRS = ("alt", "title", "placeholder", "aria-label")


class _Text(HTMLParser):
    """The text nodes and visible attributes of a template with its Jinja parts blanked."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("code", "script", "style"):
            self._skip += 1
        self.found += [v for k, v in attrs if k in VISIBLE_ATTRS and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("code", "script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def bare_english(source: str) -> list[str]:
    """Words of English a person would read that are not inside `_()`."""
    parser = _Text()
    parser.feed(JINJA.sub(" ", source))
    words = re.findall(r"[A-Za-z]{2,}", " ".join(parser.found))
    return [w for w in words if w not in ALLOWED]


def test_the_scan_finds_english_outside_the_markers() -> None:
    assert bare_english('<p title="Pick one">{{ _("Hello") }} world</p>') == [
        "Pick",
        "one",
        "world",
    ]
    assert bare_english('<p>{{ _("Hello") }} <code>x = 1</code> 12 × 3 — QC</p>') == []


@pytest.mark.parametrize("name", TRANSLATED)
def test_translated_templates_have_no_english_outside_markers(name: str) -> None:
    assert bare_english((WEB / "templates" / name).read_text()) == [], name
