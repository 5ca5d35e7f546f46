"""Role × route matrix: every rule in `app.url_map`, every method, five roles, real object ids.

The expected-access table is explicit per endpoint, so a new route without an entry fails here
until someone decides who may reach it. Admin: `web/auth.py` (`page_roles`, `api_roles`) and
`web/planner/access.py` (`staff_page`) let the admin role through every role check, and
`StationUser.may_act_on` lets it act on every station, so admin is expected wherever any role is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from security_helpers import ROLES, Client, World, world  # noqa: F401  (the world fixture)

ANON, CUSTOMER, PLANNER, OPERATOR, ADMIN = ROLES
pytestmark = pytest.mark.slow  # a route sweep on a seeded world (CAD builds and a plan per module)
EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {ANON}
CUSTOMERS = frozenset({CUSTOMER, ADMIN})
PLANNERS = frozenset({PLANNER, ADMIN})
OPERATORS = frozenset({OPERATOR, ADMIN})
MACHINES_ONLY: frozenset[str] = frozenset()  # HMAC-signed requests, never a session
REDIRECTS = (301, 302, 303, 307, 308)
REFUSED = (401, 403, 404)


@dataclass(frozen=True)
class Access:
    """Who may reach an endpoint; `also_ok`: refusal codes that are input errors there."""

    roles: frozenset[str]
    also_ok: frozenset[int] = frozenset()


EXPECTED: dict[str, Access] = {
    "healthz": Access(EVERYONE),
    "static": Access(EVERYONE),
    "shop.index": Access(EVERYONE),
    "shop.thumbnail": Access(EVERYONE),
    "shop.configure": Access(EVERYONE),
    "shop.configure_submit": Access(EVERYONE),
    "shop.login": Access(EVERYONE, frozenset({401})),  # a wrong password is a 401 for anyone
    "shop.signup": Access(EVERYONE),
    "shop.logout": Access(EVERYONE),
    "shop.account": Access(SIGNED_IN),
    "shop.cart": Access(CUSTOMERS),
    "shop.cart_remove": Access(CUSTOMERS),
    "shop.checkout": Access(CUSTOMERS),
    "shop.my_orders": Access(CUSTOMERS),
    "shop.order": Access(CUSTOMERS),
    "shop.download": Access(CUSTOMERS),
    "shop.cancel": Access(CUSTOMERS),  # the world's orders are on the floor: a 422 refusal
    "shop.amend": Access(CUSTOMERS),  # an empty form: a 422 naming line_id
    "shop.forgot_password": Access(EVERYONE),  # an empty form: a 422 naming email
    "shop.reset_password": Access(EVERYONE),  # the sample key is no link: 410 Gone
    "shop.delivery_note_pdf": Access(CUSTOMERS, frozenset({404})),  # none until it ships
    "shop.confirmation_pdf": Access(CUSTOMERS),
    "shop.invoice_pdf": Access(CUSTOMERS),  # a pro-forma until the invoice is issued
    "shop.quote_pdf": Access(CUSTOMERS),  # quantity and tier default to 1, standard
    "shop.pay": Access(CUSTOMERS),  # the world's orders have no online method: a 422 refusal
    # the gateway's return (signed by it, no session): the world has no gateway account (404)
    "shop.gateway_return": Access(EVERYONE, frozenset({404})),
    "i18n.choose_language": Access(EVERYONE),  # no language in the form: a 422 naming it
    "api.families": Access(EVERYONE),
    "api.family": Access(EVERYONE),
    "api.docs": Access(EVERYONE),
    "api.openapi": Access(EVERYONE),
    "api.validate": Access(EVERYONE),
    "api.quote": Access(EVERYONE),
    "api.promise": Access(EVERYONE),
    "api.me": Access(SIGNED_IN),
    "api.artifact": Access(SIGNED_IN),  # staff: every design's files; customers: their own
    "api.save_configuration": Access(CUSTOMERS),
    "api.get_configuration": Access(CUSTOMERS),
    "api.preview": Access(CUSTOMERS),
    # the anonymous preview, by the visitor's own values (strictly rate-limited; no ids)
    "api.anonymous_preview": Access(EVERYONE),
    "api.anonymous_preview_status": Access(EVERYONE),
    "api.anonymous_preview_glb": Access(EVERYONE, frozenset({404})),  # none until it is built
    "api.orders": Access(CUSTOMERS),
    "api.create_order": Access(CUSTOMERS),
    "api.order": Access(CUSTOMERS),
    "floor.events": Access(MACHINES_ONLY),
    **{
        f"planner.{name}": Access(PLANNERS)
        for name in (
            "home",
            "board_fragment",
            "board_json",
            "machines",
            "machine_state",
            "add_maintenance",
            "pin",
            "propose",
            "reports",
            "reports_csv",
            "schedule_list",
            "schedule",
            "approve_schedule",
            "gantt_json",
            "schedule_panel",
            "release_schedule",
            "shipping",
            "ship",
            "deliver",
            "cancel",
            "payments",
            "payment_record",  # an empty form: a 422 naming the field
            "payment_void",
            "payment_issue_invoice",  # an empty form: a 422 naming order_id
            "payment_invoice_pdf",  # no order number: a 422
            "stock",
            "stock_receive",  # an empty form: a 422 naming the field
            "stock_load",
            "stock_unload",
            "stock_adjust",
            "power",
            "add_outage",  # an empty form: a 422 naming start and end
            "import_outages",  # no file: a 422 naming file
            "power_state",  # power back on a feeder that has power: applied, no change
        )
    },
    "planner.remove_outage": Access(PLANNERS, frozenset({404})),  # the sample outage is gone
    "planner.delivery_note_pdf": Access(PLANNERS, frozenset({404})),  # none until it ships
    "planner.fleet": Access(PLANNERS | OPERATORS),  # operators watch the fleet too
    "planner.fleet_json": Access(PLANNERS | OPERATORS),
    "planner.fleet_cancel": Access(PLANNERS),  # no job named: a 422 naming job_order_id
    "planner.mail_log": Access(frozenset({ADMIN})),  # the e-mail log: addresses of customers
    **{
        f"operator.{name}": Access(OPERATORS)
        for name in (
            "home",
            "job",
            "press",
            "traveler",
            "station",
            "bed_clear",
            "station_live",
            "plate_clear_page",  # where the traveler's QR leads: a page, no change on GET
            "plate_clear",  # no boxes ticked: back to the page
            "fail_object",  # no member named: a 422 naming it
        )
    },
    "shop.change_password": Access(SIGNED_IN),  # an empty form: a 422 naming the field
    **{
        f"admin.{name}": Access(frozenset({ADMIN}))
        for name in (
            "users",
            "add_user",
            "set_role",
            "set_stations",
            "set_active",
            "reset_password",
        )
    },
}
SESSION_ENDERS = ("shop.logout",)  # run last for each role: they end the session


def samples(w: World) -> dict[str, Any]:
    """A real value for every URL argument (a new argument name fails until added here)."""
    return {
        "config_id": w.config_a,
        "order_id": w.order_a,
        "artifact_id": w.artifact_a,
        "index": 0,
        "key": "enclosure",
        "job_order_id": w.job,
        "action": "start",
        "machine_id": w.machine,
        "kind": "up",
        "schedule_id": w.schedule_id,
        "user_id": w.users["staff"][1],  # a person only the admin's sweep changes
        "filename": "css/hunar.css",
        "config_hash": _hash_of(w, w.config_a),  # the digest of design A's values
        "provider": "jazzcash",  # a payment gateway's name
        "feeder": "main",  # an electricity feeder of the shop
        "state": "back",
        "outage_id": 999999,
    }


def _hash_of(w: World, config_id: int) -> str:
    from orders.models import ProductConfiguration

    with w.ctx.db.sessions() as s:
        return s.get_one(ProductConfiguration, config_id).config_hash


def requests(w: World) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every rule and method; session enders last."""
    adapter, values, out = w.app.url_map.bind("localhost"), samples(w), []
    for rule in w.app.url_map.iter_rules():
        missing = rule.arguments - set(values)
        assert not missing, f"{rule.rule}: add sample values for {sorted(missing)}"
        args = {a: values[a] for a in rule.arguments}
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, adapter.build(rule.endpoint, args, method=method)))
    return sorted(out, key=lambda r: (r[0] in SESSION_ENDERS, r[1], r[2]))


def send(who: Client, method: str, url: str) -> Any:
    """The request a browser or script would send, CSRF token included (access is under test)."""
    if method == "GET":
        return who.client.get(url)
    if url.startswith("/api/"):
        return who.api(method, url, {})
    return who.client.open(
        url, method=method, data={"csrf_token": who.csrf, "event_id": uuid.uuid4().hex}
    )


def is_login_redirect(resp: Any) -> bool:
    return resp.status_code in REDIRECTS and urlsplit(resp.headers["Location"]).path == "/login"


def check_allowed(resp: Any, access: Access) -> str | None:
    code = resp.status_code
    if code >= 500 or is_login_redirect(resp):
        return f"allowed role got {code} {resp.headers.get('Location', '')}"
    if code in REFUSED and code not in access.also_ok:
        return f"allowed role refused with {code}"
    if code == 400 and b"CSRF" in resp.data:
        return "the harness sent no valid CSRF token"
    return None


def check_forbidden(resp: Any) -> str | None:
    if is_login_redirect(resp) or resp.status_code in REFUSED:
        return None
    return f"forbidden role got {resp.status_code} {resp.headers.get('Location', '')}"


def test_every_route_has_an_explicit_access_entry(world: World) -> None:  # noqa: F811
    endpoints = {rule.endpoint for rule in world.app.url_map.iter_rules()}
    assert endpoints - set(EXPECTED) == set(), "new routes need an entry in EXPECTED"
    assert set(EXPECTED) - endpoints == set(), "stale entries in EXPECTED"
    assert len(requests(world)) >= 55


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(world: World, role: str) -> None:  # noqa: F811
    who = world.login(role)
    problems = []
    for endpoint, method, url in requests(world):
        access = EXPECTED[endpoint]
        resp = send(who, method, url)
        if role in access.roles:
            problem = check_allowed(resp, access)
        else:
            problem = check_forbidden(resp)
        if problem:
            problems.append(f"{role} {method} {url} ({endpoint}): {problem}")
    assert problems == []


def test_anonymous_is_sent_to_login_on_pages_and_gets_401_on_the_api(world: World) -> None:  # noqa: F811
    anon = world.login(ANON)
    for endpoint, method, url in requests(world):
        if ANON in EXPECTED[endpoint].roles:
            continue
        resp = send(anon, method, url)
        if url.startswith("/api/"):
            assert resp.status_code == 401 and resp.json["error"]["code"], (method, url)
        else:
            assert is_login_redirect(resp), (method, url, resp.status_code)
            assert "next=" in resp.headers["Location"], url
