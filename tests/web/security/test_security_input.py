"""User input stays data: artifact downloads never leave the store, every form and cookie-auth
API write needs the CSRF token, user text is escaped on every page, and the nameplate text
(the one text that reaches CadQuery) is allow-listed with a field-named error."""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/web: webshop_helpers

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape
from security_forms import crawl, row_counts
from security_helpers import ROLES, Client, World, world  # noqa: F401  (the world fixture)
from sqlalchemy import select, update
from test_security_matrix import requests, samples
from webshop_helpers import csrf_of, shop_fixture  # noqa: F401  (the make_shop fixture)

import configurator
from orders.commands.audit import Actor
from orders.commands.planning import request_plan
from orders.models import Artifact, User

pytestmark = pytest.mark.slow  # a route sweep on a seeded world (CAD builds and a plan per module)
REPO = Path(__file__).resolve().parents[3]
PAYLOAD = '<script>alert(1)</script>{{7*7}}"><img src=x onerror=1>'
RAW_MARKS = ("<script>alert(1)", "<img src=x")


def _csrf_refused(resp: Any) -> bool:
    return resp.status_code == 400 and b"CSRF" in resp.data


# --- path traversal on artifact downloads -------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/files/../../etc/passwd",
        "/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/files/..%2f..%2fetc",
        "/files/%2fetc%2fpasswd",
        "/files//etc/passwd",
        "/files/1%00",
        "/files/1%00.step",
        "/files/..%5c..%5cetc%5cpasswd",
        "/files/..\\..\\etc\\passwd",
        "/files/1/..%2f..%2fetc",
        "/static/../web/__init__.py",
        "/static/%2e%2e/web/__init__.py",
        "/static/..%2fweb%2fauth.py",
        "/static/..%5c..%5cweb%5cauth.py",
        "/static/%2fetc%2fpasswd",
        "/static/css%00/hunar.css",
        "/catalogue/..%2f..%2fetc/thumbnail.svg",
    ],
)
def test_traversal_urls_are_refused(world: World, url: str) -> None:  # noqa: F811
    for who in (world.shared("customer"), world.shared("admin")):
        resp = who.client.get(url, follow_redirects=True)  # Werkzeug merges "//" with a 308
        assert resp.status_code in (400, 404, 422), (url, resp.status_code)
        assert b"root:" not in resp.data and b"def create_app" not in resp.data


def _artifact(w: World, path: str) -> int:
    with w.ctx.db.transaction() as s:
        art = Artifact(
            configuration_id=w.config_a,
            kind="step",
            path=path,
            sha256="0" * 64,
            bytes=1,
            builder_version=uuid.uuid4().hex,
            meta={},
        )
        s.add(art)
        s.flush()
        return art.id


def test_stored_paths_never_leave_the_artifact_store(world: World) -> None:  # noqa: F811
    """Rows are written directly (a compromised builder or a bad migration): the download view
    must still refuse every path that resolves outside the store."""
    root = world.ctx.settings.resolved_artifact_dir()
    tag = uuid.uuid4().hex[:8]
    secret = root.parent / f"secret-{tag}.txt"
    secret.write_text(f"SECRET-{tag}")
    inside = root / f"sweep-{tag}"
    inside.mkdir(parents=True)
    (inside / "ok.step").write_text("ISO-10303-21;")
    os.symlink(secret, inside / "link.step")
    os.symlink(root.parent, inside / "up")
    paths = [
        f"../secret-{tag}.txt",
        str(secret),
        f"sweep-{tag}/../../secret-{tag}.txt",
        f"..\\secret-{tag}.txt",
        f"%2e%2e/secret-{tag}.txt",
        f"sweep-{tag}/link.step",
        f"sweep-{tag}/up/secret-{tag}.txt",
        f"sweep-{tag}/ok.step\x00.txt",
        f"sweep-{tag}",
        "",
    ]
    a = world.login("customer")
    for path in paths:
        resp = a.client.get(f"/files/{_artifact(world, path)}")
        assert resp.status_code == 404, (path, resp.status_code)
        assert f"SECRET-{tag}".encode() not in resp.data, path
    ok = a.client.get(f"/files/{_artifact(world, f'sweep-{tag}/ok.step')}")
    assert ok.status_code == 200 and ok.data == b"ISO-10303-21;"


# --- CSRF -----------------------------------------------------------------------------------


def _fill_cart(who: Client) -> None:
    resp = who.form("/shop/enclosure", {"action": "add", "quantity": "1", "tier": "standard"})
    assert resp.status_code == 302, resp.status_code


def _prepare(world: World, who: Client, role: str) -> tuple[str, ...]:  # noqa: F811
    """Bring out the forms that only show in some states; returns extra pages to crawl."""
    if role == "customer":
        _fill_cart(who)  # the cart's remove and checkout forms
    if role == "operator":  # a finished print: the scrap and bed-clear forms
        for action in ("start", "complete"):
            resp = who.form(f"/operator/job/{world.job}/{action}", {"event_id": f"prep-{action}"})
            assert resp.status_code == 303, (action, resp.status_code)
    if role == "planner":  # a proposal: its approve and pin forms
        sid = request_plan(world.ctx, "makespan", 1, 14, Actor("sweep"))
        return (f"/planner/schedules/{sid}",)
    return ()


@pytest.mark.parametrize("role", ROLES)
def test_every_form_needs_the_csrf_token(world: World, role: str) -> None:  # noqa: F811
    who = world.login(role)
    _, forms = crawl(world, who, samples(world), _prepare(world, who, role))
    posts = sorted(
        (f for f in forms if f.method == "post"), key=lambda f: f.endpoint == "shop.logout"
    )
    assert len(posts) >= 3, [f.action for f in forms]
    for form in posts:
        assert form.has_token, (form.page, form.action)
        before = row_counts(world)
        resp = who.client.post(form.action, data=form.data(with_token=False))
        assert _csrf_refused(resp), (form.action, resp.status_code)
        assert row_counts(world) == before, form.action
    for form in sorted(posts, key=lambda f: f.endpoint in SESSION_FORMS):
        sender = world.login(role) if form.endpoint in SESSION_FORMS else who
        resp = sender.client.post(form.action, data=form.data(False) | {"csrf_token": sender.csrf})
        assert resp.status_code < 500 and not _csrf_refused(resp), (form.action, resp.status_code)


SESSION_FORMS = ("shop.login", "shop.signup", "shop.logout")  # each sent from a fresh session
# A payment gateway posts back signed (HMAC over its fields), never with our session's token;
# the hand-off form to the gateway carries no token either (it must not leave the site).
SIGNED_POSTS = ("shop.gateway_return",)


def test_every_post_route_and_template_form_needs_the_token(world: World) -> None:  # noqa: F811
    """Also the forms only some states render (release, bed clear): every POST rule of the
    url_map refuses a request without the token, and every POST form in a template has one."""
    admin = world.login("admin")  # passes every role check, so the CSRF gate is what answers
    posts = [(e, u) for e, m, u in requests(world) if m == "POST" and not u.startswith("/api/")]
    assert len(posts) >= 15
    for endpoint, url in posts:
        before = row_counts(world)
        resp = admin.client.post(url, data={"event_id": "x"})
        if endpoint in SIGNED_POSTS:  # the gateway's own signature is its check, not our token
            assert resp.status_code in (400, 404), (endpoint, resp.status_code)
        else:
            assert _csrf_refused(resp), endpoint
        assert row_counts(world) == before, endpoint
    text = "".join(p.read_text() for p in (REPO / "web/templates").rglob("*.html"))
    blocks = re.findall(r'<form[^>]*method="post".*?</form>', text, re.S)
    ours = [b for b in blocks if not re.search(r'action="\{\{ form\.url \}\}"', b)]
    assert len(blocks) - len(ours) == 1, "only the gateway hand-off posts off the site"
    assert len(ours) >= 15 and all("csrf_token()" in b for b in ours)
    for endpoint, _ in posts:
        assert (
            f"url_for('{endpoint}'" in text
            or endpoint == "shop.configure_submit"
            or endpoint in SIGNED_POSTS  # the gateway is told the address, no page links it
        ), endpoint


def _settled(w: World, quiet_s: float = 0.5, limit_s: float = 30.0) -> None:
    """Until the row counts hold still for `quiet_s` (background jobs started by a write)."""
    end, last = time.monotonic() + limit_s, row_counts(w)
    while time.monotonic() < end:
        time.sleep(quiet_s)
        now = row_counts(w)
        if now == last:
            return
        last = now


def test_cookie_api_writes_need_the_token_and_tokens_are_per_session(world: World) -> None:  # noqa: F811
    a, b = world.login("customer"), world.login("customer_b")
    writes = [
        (m, u)
        for _, m, u in requests(world)
        if u.startswith("/api/") and m != "GET" and not u.startswith("/api/floor/")
    ]
    assert len(writes) >= 6, writes
    body = {"family": "enclosure", "params": {"inner_length": 77}}
    for method, url in writes:
        before = row_counts(world)
        for headers in ({}, {"X-CSRFToken": b.csrf}, {"X-CSRFToken": "forged"}):
            resp = a.client.open(url, method=method, json=body, headers=headers)
            assert resp.status_code == 400 and resp.json["error"]["code"] == "csrf_failed", url
        assert row_counts(world) == before, url
        ok = a.api(method, url, body)
        answer = ok.get_json(silent=True) or {}
        assert ok.status_code < 500 and (answer.get("error") or {}).get("code") != "csrf_failed", (
            url,
            ok.status_code,
            ok.data[:200],
        )
        _settled(world)  # a preview write starts a build in the background: let it land first
    resp = a.api("POST", "/api/floor/events", {"kind": "machine_down", "machine_id": world.machine})
    assert resp.status_code == 401, "a session cookie must not authenticate machine events"


@pytest.mark.parametrize("backend", ["postgresql"])
def test_nul_characters_are_refused_naming_the_field(make_shop: Any, backend: str) -> None:
    """PostgreSQL cannot store NUL in text: it used to surface as a 500 from deep in a view."""
    shop = make_shop(backend)
    anon = shop.app.test_client()
    token = csrf_of(anon.get("/signup").get_data(as_text=True))
    resp = anon.post(
        "/signup",
        data={
            "csrf_token": token,
            "email": "nul@example.com",
            "name": "a\x00b",
            "password": "correct horse battery",
        },
    )
    assert resp.status_code == 422 and b"name contains a NUL" in resp.data
    alice = shop.shopper()
    resp = alice.api(
        "POST", "/api/orders", {"lines": [{"configuration_id": 1}], "idempotency_key": "k\x00"}
    )
    assert resp.status_code == 422 and "idempotency_key" in resp.json["error"]["fields"]
    assert alice.post_form("/account", {"name": "t\x00"}).status_code == 422
    assert alice.client.get("/planner/%00").status_code == 404
    with shop.ctx.db.sessions() as s:
        assert s.scalar(select(User).where(User.email == "nul@example.com")) is None


# --- escaping -------------------------------------------------------------------------------


def _assert_escaped(where: str, html: str, must_show: bool = True) -> None:
    for mark in RAW_MARKS:
        assert mark not in html, f"{where}: raw user text in the page"
    if must_show:
        assert str(escape(PAYLOAD)) in html, f"{where}: the escaped text is missing"


def test_user_text_is_escaped_on_every_page(world: World) -> None:  # noqa: F811
    with world.ctx.db.transaction() as s:
        s.execute(update(User).values(display_name=PAYLOAD))
    planner, customer = world.login("planner"), world.login("customer")
    assert (
        planner.form(
            f"/planner/machines/{world.machine}/maintenance",
            {"start": "2031-05-01T10:00", "end": "2031-05-01T11:00", "note": PAYLOAD},
        ).status_code
        == 302
    )
    assert customer.form("/account", {"name": PAYLOAD}).status_code == 200
    pages = 0
    for role in ROLES[1:]:
        who = world.login(role)
        html_pages, _ = crawl(world, who, samples(world))
        for url, html in html_pages.items():
            _assert_escaped(f"{role} {url}", html, must_show='<header class="top">' in html)
            pages += 1
    assert pages >= 25
    _assert_escaped("machines", planner.client.get("/planner/machines").get_data(as_text=True))
    _assert_escaped("account", customer.client.get("/account").get_data(as_text=True))


@pytest.mark.parametrize("how", ["login", "signup", "next", "board_q", "family_key", "nameplate"])
def test_reflected_text_is_escaped(world: World, how: str) -> None:  # noqa: F811
    anon, planner = world.shared("anonymous"), world.shared("planner")
    resp = {
        "login": lambda: anon.form("/login", {"email": PAYLOAD, "password": "x"}),
        "signup": lambda: anon.form(
            "/signup", {"email": PAYLOAD, "name": PAYLOAD, "password": "x"}
        ),
        "next": lambda: anon.client.get("/login", query_string={"next": PAYLOAD}),
        "board_q": lambda: planner.client.get("/planner/", query_string={"q": PAYLOAD}),
        "family_key": lambda: anon.client.get("/shop/" + PAYLOAD.replace("/", "")),
        "nameplate": lambda: anon.form("/shop/nameplate", {"text": PAYLOAD, "action": "quote"}),
    }[how]()
    assert resp.status_code < 500, resp.status_code
    html = resp.get_data(as_text=True)
    for mark in RAW_MARKS:
        assert mark not in html, how
    assert "&lt;script&gt;alert(1)" in html, how


def test_autoescape_is_on_and_no_template_marks_user_data_safe(world: World) -> None:  # noqa: F811
    from mes_bridge import traveler

    env = world.app.jinja_env
    templates = [
        p
        for d in ("web/templates", "mes_bridge/templates")
        for p in (REPO / d).rglob("*")
        if p.is_file()
    ]
    assert len(templates) >= 25
    for path in templates:
        text = path.read_text()
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup\(", text), path
        if "web/templates" in str(path):
            assert env.autoescape(path.name) is True, path  # type: ignore[operator]
    assert traveler._env.autoescape("traveler.html")  # type: ignore[operator]
    sources = "".join(p.read_text() for p in (REPO / "web").rglob("*.py"))
    assert "render_template_string" not in sources
    assert sources.count("Markup(") == 1, "a new Markup() in web/: check it escapes user data"


def test_report_charts_escape_their_labels() -> None:
    from orders.queries.reports import Series
    from web.planner.charts import bar_svg

    svg = bar_svg(Series("k", PAYLOAD, PAYLOAD, [(PAYLOAD, 3.0)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


# --- the CadQuery text allow-list -----------------------------------------------------------

BAD_TEXT = [
    "<script>",
    "{{7*7}}",
    'a"b',
    "a;b",
    "a`b",
    "$(id)",
    "a\\b",
    "a%b",
    "a\nb",
    "a\tb",
    "a\x00b",
    "😀",
    "a\u202eb",
    "a\u200db",
    "Ａ",
    "a<b",
    "a|b",
    "a=b",
    "a~b",
]
GOOD_TEXT = ["BAY #3", "ہنر", "Café&Co", "A/B:ok!?"]
PUNCT = " -_.,&'#/()+:!?"


def _names_text(resp: Any) -> bool:
    body = resp.json
    if "errors" in body:
        return not body["ok"] and any(e["param"] == "text" for e in body["errors"])
    return any(k.split(".")[-1] == "text" for k in body["error"]["fields"])


@pytest.mark.parametrize("text", BAD_TEXT)
def test_nameplate_text_outside_the_allow_list_never_reaches_cad(world: World, text: str) -> None:  # noqa: F811
    customer = world.shared("customer")
    before = row_counts(world)
    body = {"family": "nameplate", "params": {"text": text}}
    for url in ("/api/validate", "/api/quote", "/api/promise", "/api/configurations"):
        resp = customer.api("POST", url, body)
        assert resp.status_code in (200, 422) and _names_text(resp), (url, resp.json)
    resp = customer.form("/shop/nameplate", {"text": text, "action": "add"})
    assert resp.status_code == 422
    error = re.search(r'data-error-for="text" role="alert">([^<]*)<', resp.get_data(as_text=True))
    assert (error and error.group(1).strip()) or "NUL" in resp.get_data(as_text=True)
    assert row_counts(world) == before, "a refused text left a design, quote or CAD job behind"


def test_allowed_nameplate_text_is_accepted(world: World) -> None:  # noqa: F811
    anon = world.shared("anonymous")
    for text in GOOD_TEXT:
        resp = anon.api("POST", "/api/validate", {"family": "nameplate", "params": {"text": text}})
        assert resp.json["ok"], (text, resp.json)


def _allowed(ch: str) -> bool:
    """The documented allow-list, written out independently of configurator/params.py."""
    if ch in PUNCT or (ch.isascii() and ch.isalnum()):
        return True
    return ("\u00c0" <= ch <= "\u00ff" or "\u0621" <= ch <= "\u06d3") and ch.isalpha()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12))
def test_any_accepted_text_is_within_the_allow_list(text: str) -> None:
    raw = configurator.get_family("nameplate").default_raw() | {"text": text}
    result = configurator.validate("nameplate", raw)
    if result.config is not None:
        assert all(_allowed(ch) for ch in result.config.values["text"]), text
    elif text and not all(_allowed(ch) for ch in text):
        assert any(e.param == "text" for e in result.errors), text
