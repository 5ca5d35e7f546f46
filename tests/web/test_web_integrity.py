"""Integrity of the web layer (issue 22): hostile JSON is a 400 on every route, never a 500."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from webshop_helpers import MakeShop, shop_fixture  # noqa: F401  (the make_shop fixture)

DEEP = "[" * 1000 + "]" * 1000
NOT_QUITE = "[" * 33 + "]" * 33


def _routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    out = []
    for rule in app.url_map.iter_rules():
        if rule.arguments or rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, rule.rule))
    return out


@pytest.mark.parametrize("document", [DEEP, NOT_QUITE], ids=["1000-deep", "33-deep"])
def test_deeply_nested_json_is_a_400_on_every_route(make_shop: MakeShop, document: str) -> None:
    shop = make_shop()
    client = shop.app.test_client()
    routes = _routes(shop.app)
    assert ("GET", "/healthz") in routes and ("POST", "/api/quote") in routes
    for method, path in routes:
        resp = client.open(path, method=method, data=document, content_type="application/json")
        assert resp.status_code == 400, (method, path, resp.status_code)
        assert b"Traceback" not in resp.get_data()


@pytest.mark.parametrize(
    "raw, number",
    [("0", 0), ("7", 7), ("1000", 1000), ("1_000", None), ("١٢٣", None), ("01", None)]
    + [("+1", None), ("-1", None), (" 1", None), ("²", None), ("", None), ("1" * 11, None)],
)
def test_one_whole_number_parser(raw: str, number: int | None) -> None:
    from web import whole_number

    assert whole_number(raw) == number


@pytest.mark.parametrize(
    "raw, number", [("10", 10.0), ("2.5", 2.5), ("1_00", None), ("1e3", None), ("-1", None)]
)
def test_one_decimal_parser(raw: str, number: float | None) -> None:
    from web import decimal_number

    assert decimal_number(raw) == number


def test_job_order_ids_and_url_ids_have_no_aliases(make_shop: MakeShop) -> None:
    from mes_bridge.job_order_ids import parse_job_order

    assert parse_job_order("JO-85-v4") == (85, 4)
    assert parse_job_order("JO-085-v4") is None and parse_job_order("JO-85-v04") is None
    from werkzeug.exceptions import NotFound

    urls = make_shop().app.url_map.bind("localhost")
    assert urls.match("/api/artifacts/1")[1] == {"artifact_id": 1}
    for alias in ("/api/artifacts/01", "/api/artifacts/\u0661", "/api/artifacts/0001"):
        with pytest.raises(NotFound):
            urls.match(alias)


def test_signed_in_pages_and_json_are_never_stored(make_shop: MakeShop) -> None:
    shop = make_shop()
    customer = shop.shopper()
    for url in ("/account", "/api/me", "/orders"):
        resp = customer.client.get(url)
        assert resp.status_code == 200, url
        assert resp.headers["Cache-Control"] == "no-store", url
    anonymous = shop.app.test_client().get("/")
    assert anonymous.headers.get("Cache-Control") != "no-store"


def test_a_revoked_token_stops_working(make_shop: MakeShop) -> None:
    import re

    shop = make_shop()
    customer = shop.shopper()
    page = customer.post_form("/account", {"name": "ci"}).get_data(as_text=True)
    clear = re.search(r'id="new-token">([^<]+)<', page)
    assert clear is not None
    bearer = {"Authorization": f"Bearer {clear.group(1)}"}
    anon = shop.app.test_client()
    assert anon.get("/api/me", headers=bearer).status_code == 200
    token_id = re.search(r'name="token_id" value="([0-9]+)"', page)
    assert token_id is not None
    resp = customer.post_form("/account", {"action": "revoke", "token_id": token_id.group(1)})
    assert resp.status_code == 200 and b"Token revoked" in resp.data
    assert anon.get("/api/me", headers=bearer).status_code == 401


def test_signing_out_ends_a_copied_session_cookie(make_shop: MakeShop) -> None:
    shop = make_shop()
    customer = shop.shopper()
    thief = shop.app.test_client()
    cookie = customer.client.get_cookie("session")
    assert cookie is not None
    thief.set_cookie("session", cookie.value)
    assert thief.get("/api/me").status_code == 200, "the copied cookie works while signed in"
    assert customer.post_form("/logout", {}).status_code == 302
    assert thief.get("/api/me").status_code == 401, "sign-out ended the copied session"


def test_a_new_password_ends_every_session(make_shop: MakeShop) -> None:
    from orders.commands.accounts import set_password
    from orders.models import User

    shop = make_shop()
    customer = shop.shopper()
    assert customer.client.get("/api/me").status_code == 200
    with shop.ctx.db.transaction() as s:
        set_password(s, s.get_one(User, customer.user_id), "another long passphrase")
    assert customer.client.get("/api/me").status_code == 401


def test_an_anonymous_quote_does_not_tell_what_others_saved(make_shop: MakeShop) -> None:
    from webshop_helpers import ENCLOSURE

    shop = make_shop()
    owner = shop.shopper()
    config_id = shop.save_design(owner)
    body = {"family": "enclosure", "params": ENCLOSURE, "quantity": 1}
    anonymous = shop.app.test_client().post("/api/quote", json=body).json
    assert anonymous["configuration_id"] is None
    other = shop.shopper().api("POST", "/api/quote", body).json
    assert other["configuration_id"] is None
    mine = owner.api("POST", "/api/quote", body).json
    assert mine["configuration_id"] == config_id


def test_design_saves_are_rate_limited(make_shop: MakeShop) -> None:
    from webshop_helpers import ENCLOSURE

    shop = make_shop(limits={"design": (3, 60)})
    customer = shop.shopper()
    codes = [
        customer.api(
            "POST", "/api/configurations", {"family": "enclosure", "params": ENCLOSURE}
        ).status_code
        for _ in range(5)
    ]
    assert codes == [201, 201, 201, 429, 429]


def test_sign_in_is_throttled_per_account_across_addresses(make_shop: MakeShop) -> None:
    """Wrong passwords from many source addresses lock the account, not just one address;
    the lock answers 429 with Retry-After, even to the right password."""
    from webshop_helpers import PASSWORD, csrf_of

    from orders.shop import shop_numbers

    shop = make_shop(limits={})  # no per-IP limit: only the account throttle is tested
    email = f"victim-{uuid.uuid4().hex[:6]}@example.com"
    shop.user(email=email)
    codes = []
    for i in range(shop_numbers().sign_in.free_failures + 1):
        client = shop.app.test_client()
        form = {"email": email, "password": "wrong guess", "csrf_token": ""}
        form["csrf_token"] = csrf_of(client.get("/login").get_data(as_text=True))
        resp = client.post("/login", data=form, environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
        codes.append(resp.status_code)
    assert codes[:-1] == [401] * (len(codes) - 1) and codes[-1] == 429
    client = shop.app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in resp.get_data(as_text=True)


def test_the_first_request_of_a_new_worker_runs_orphaned_jobs_again(make_shop: MakeShop) -> None:
    """A web worker recycled mid-job leaves a started record; the next worker's first request
    (a GET is enough: a customer polling the preview) runs the job again."""
    import subprocess
    import sys

    from orders.models import JobRecord, JobState

    gone = subprocess.run(
        [
            sys.executable,
            "-c",
            "from orders.adapters.queue import process_tag; print(process_tag())",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    shop = make_shop()
    with shop.ctx.db.transaction() as s:
        s.add(
            JobRecord(
                id="orphan-1",
                queue="cad",
                func="orders.jobs:health_check",
                args=[1],
                dedupe_key="orphan-test",
                backend="inprocess",
                owner=gone,
                state=JobState.STARTED,
            )
        )
    assert shop.app.test_client().get("/healthz").status_code == 200
    from orders.adapters.queue import _background

    _background().submit(lambda: None).result(timeout=60)  # the one job thread has run it
    with shop.ctx.db.sessions() as s:
        assert s.get_one(JobRecord, "orphan-1").state == JobState.FAILED
        again = s.scalars(
            select(JobRecord).where(
                JobRecord.dedupe_key == "orphan-test", JobRecord.id != "orphan-1"
            )
        ).all()
        assert [r.state for r in again] == [JobState.FINISHED]
