"""IDOR: every URL argument that names an object is classified, and every route carrying one is
probed with someone else's object (customer B on A's designs, orders and files; the operator of
another station on a station's jobs). Routes come from `app.url_map`, so a new id route is
covered at once, and a new argument name fails until it is classified here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from security_helpers import Client, World, world  # noqa: F401  (the world fixture)
from sqlalchemy import func, select

from orders.models import Artifact, Order, ProductConfiguration

pytestmark = pytest.mark.slow  # a route sweep on a seeded world (CAD builds and a plan per module)
# CSRF tokens are signed with a timestamp: the meta tag and every form's hidden field vary
CSRF_META = re.compile(rb'name="csrf[-_]token" (?:content|value)="[^"]*"')
OWNED = {"config_id", "order_id", "artifact_id"}  # a customer's objects
STATION = {"job_order_id", "machine_id"}  # under /operator: one operator's station
SHOP_WIDE = {
    "schedule_id",
    "machine_id",
    "user_id",
    "outage_id",
    "feeder",
}  # planners see the shop; admins, everyone
NOT_OBJECTS = {
    "key",
    "filename",
    "kind",
    "action",  # catalogue keys, static files, verbs
    "index",  # a position in the cart, which lives in the user's own session
    "config_hash",  # the anonymous preview: a digest of the values the visitor typed
    "provider",  # a payment gateway's name (jazzcash, easypaisa)
    "state",  # power lost / back
}
# Documents that exist only later in an order's life: their owner gets a 404 before then too.
LATER = {"shop.delivery_note_pdf"}  # the delivery note, once the order ships


def id_rules(w: World) -> list[tuple[str, str, set[str]]]:
    """(rule, method, object arguments) for every rule with an object argument."""
    out = []
    for rule in w.app.url_map.iter_rules():
        unknown = rule.arguments - OWNED - STATION - SHOP_WIDE - NOT_OBJECTS
        assert not unknown, f"{rule.rule}: classify URL argument(s) {sorted(unknown)}"
        objects = rule.arguments - NOT_OBJECTS
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if objects:
                out.append((rule.endpoint, method, objects))
    return out


def url_for(w: World, endpoint: str, method: str, values: dict[str, Any]) -> str:
    rule = next(r for r in w.app.url_map.iter_rules(endpoint))
    fixed = {"key": "enclosure", "kind": "up", "action": "start", "index": 0} | values
    args = {a: fixed[a] for a in rule.arguments}
    return w.app.url_map.bind("localhost").build(endpoint, args, method=method)


def send(who: Client, method: str, url: str, data: dict[str, Any] | None = None) -> Any:
    if method == "GET":
        return who.client.get(url)
    if url.startswith("/api/"):
        return who.api(method, url, data or {})
    return who.form(url, {"event_id": "idor", **(data or {})})


def test_every_object_route_is_classified_and_counted(world: World) -> None:  # noqa: F811
    rules = id_rules(world)
    owned = [r for r in rules if r[2] & OWNED]
    station = [r for r in rules if r[0].startswith("operator.")]
    assert len(owned) >= 6 and len(station) >= 6, rules


def test_customer_b_gets_404_on_every_route_with_customer_a_ids(world: World) -> None:  # noqa: F811
    a, b = world.login("customer"), world.login("customer_b")
    mine = {"config_id": world.config_a, "order_id": world.order_a, "artifact_id": world.artifact_a}
    checked = 0
    for endpoint, method, objects in id_rules(world):
        if not objects & OWNED:
            continue
        url = url_for(world, endpoint, method, mine)
        resp = send(b, method, url)
        assert resp.status_code == 404, (method, url, resp.status_code)
        assert str(world.config_a) not in resp.headers.get("Location", ""), url
        if method == "GET" and endpoint not in LATER:
            assert send(a, method, url).status_code == 200, ("owner refused", url)
        checked += 1
    assert checked >= 6


def test_bearer_token_of_customer_b_gets_404_on_customer_a_ids(world: World) -> None:  # noqa: F811
    from orders.commands.accounts import issue_token
    from orders.models import User

    with world.ctx.db.transaction() as s:
        token = issue_token(s, s.get_one(User, world.users["customer_b"][1]), "idor")
    client = world.app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    mine = {"config_id": world.config_a, "order_id": world.order_a, "artifact_id": world.artifact_a}
    for endpoint, method, objects in id_rules(world):
        if not objects & OWNED or not endpoint.startswith("api."):
            continue
        url = url_for(world, endpoint, method, mine)
        resp = client.open(url, method=method, headers=headers)
        assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found", url


def test_operator_of_another_station_gets_404_on_every_station_route(world: World) -> None:  # noqa: F811
    own, other = world.login("operator"), world.login("operator_b")
    values = {"machine_id": world.machine, "job_order_id": world.job, "action": "pause"}
    checked = 0
    for endpoint, method, objects in id_rules(world):
        if not endpoint.startswith("operator."):
            continue
        assert objects <= STATION, (endpoint, objects)
        url = url_for(world, endpoint, method, values)
        resp = send(other, method, url, {"check": ["a", "b"]})
        assert resp.status_code == 404, (method, url, resp.status_code)
        if method == "GET":
            assert send(own, method, url).status_code == 200, ("own station refused", url)
        checked += 1
    assert checked >= 6
    # A plate member named in the form is checked too: scrap on another station's job.
    resp = other.form(
        f"/operator/job/{world.job}/scrap", {"event_id": "m1", "qty": "1", "member": world.job}
    )
    assert resp.status_code == 404


def test_staff_ids_are_not_reachable_by_customers_or_operators(world: World) -> None:  # noqa: F811
    customer, operator = world.login("customer"), world.login("operator")
    values = {
        "schedule_id": world.schedule_id,
        "machine_id": world.machine,
        "outage_id": 1,
        "feeder": "main",
        "state": "back",
    }
    for endpoint, method, objects in id_rules(world):
        if not endpoint.startswith("planner."):
            continue
        assert objects <= SHOP_WIDE, (endpoint, objects)
        url = url_for(world, endpoint, method, values)
        assert send(customer, method, url).status_code == 404, url
        assert send(operator, method, url).status_code == 403, url


def _max_ids(w: World) -> dict[str, int]:
    with w.ctx.db.sessions() as s:
        return {
            "config_id": s.scalar(select(func.max(ProductConfiguration.id))) or 0,
            "order_id": s.scalar(select(func.max(Order.id))) or 0,
            "artifact_id": s.scalar(select(func.max(Artifact.id))) or 0,
        }


def _diff(shapes: set[bytes]) -> str:
    """The lines in which two 404 pages differ, for the failure message."""
    import difflib

    a, b, *_ = sorted(shapes)
    lines = difflib.unified_diff(a.decode().splitlines(), b.decode().splitlines(), lineterm="")
    return "\n".join(list(lines)[:40])


def test_sequential_id_probing_finds_only_your_own_objects(world: World) -> None:  # noqa: F811
    """B walks every id from 1 past the highest: only B's own design and order answer, and a
    taken id answers exactly like a free one (no existence oracle)."""
    b = world.login("customer_b")
    top = _max_ids(world)
    with world.ctx.db.sessions() as s:
        arts_b = set(
            s.scalars(select(Artifact.id).where(Artifact.configuration_id == world.config_b))
        )
    own = {"config_id": {world.config_b}, "order_id": {world.order_b}, "artifact_id": arts_b}
    probed = 0
    for endpoint, method, objects in id_rules(world):
        if method != "GET" or len(objects) != 1 or not objects <= OWNED:
            continue
        (arg,) = objects
        seen, shapes = set(), set()
        for i in range(1, top[arg] + 4):
            resp = send(b, "GET", url_for(world, endpoint, "GET", {arg: i}))
            assert resp.status_code in (200, 404), (endpoint, i, resp.status_code)
            if resp.status_code == 200:
                seen.add(i)
            else:
                shapes.add(re.sub(rb"\d+", b"N", CSRF_META.sub(b"", resp.data)))
            probed += 1
        assert seen == own[arg] or (endpoint in LATER and seen <= own[arg]), (endpoint, seen)
        assert len(shapes) == 1, (endpoint, "a taken id answers unlike a free one", _diff(shapes))
    assert probed >= 5 * 3


@pytest.mark.parametrize(
    "url",
    [
        "/api/orders/2147483648",
        "/api/orders/-1",
        "/orders/1e3",
        "/files/99999999999999999999",
        "/api/configurations/0x1",
        "/operator/job/JO-99999999999999999999-v1",
        "/operator/job/JO-1-v99999999999999999999/traveler",
        "/operator/job/JO-\u0661-v1",
        "/shop/enclosure?from=99999999999999999999",
    ],
)
def test_absurd_ids_are_not_found_never_a_server_error(world: World, url: str) -> None:  # noqa: F811
    admin = world.shared("admin")  # passes every role check: the id handling is under test
    resp = admin.client.get(url)
    assert resp.status_code in (200, 404), (url, resp.status_code)
    assert resp.status_code == 404 or "from=" in url


def test_unicode_digits_are_not_numbers(world: World) -> None:  # noqa: F811
    """'²'.isdigit() is True but int('²') fails: these used to answer 500."""
    admin = world.shared("admin")
    assert admin.client.get("/planner/reports", query_string={"days": "²"}).status_code == 200
    assert admin.form("/planner/pin", {"operation_id": "²"}).status_code == 422
    resp = admin.form(
        f"/operator/job/{world.job}/scrap",
        {"event_id": "u1", "qty": "²"},
        headers={"Accept": "application/json"},
    )
    assert resp.status_code == 422 and resp.json["error"]["code"] == "invalid"


def test_job_packet_file_links_serve_the_files_to_the_floor(world: World) -> None:  # noqa: F811
    """Job orders link each file as /api/artifacts/<id>: staff get the exact bytes (sha256 as in the
    packet), another customer gets 404, nobody signed in gets 401."""
    import hashlib
    from urllib.parse import urlsplit

    from orders.models import OutboxMessage

    with world.ctx.db.sessions() as s:
        payloads = s.scalars(select(OutboxMessage.payload).where(OutboxMessage.kind == "job_order"))
        refs = [a for p in payloads for a in p["job"]["artifacts"]]
    assert refs, "released job orders carry their files"
    operator, planner, b = (
        world.login("operator"),
        world.login("planner"),
        world.login("customer_b"),
    )
    for ref in refs[:3]:
        path = urlsplit(ref["url"]).path
        assert path.startswith("/api/artifacts/"), ref
        for staff in (operator, planner):
            resp = staff.client.get(path)
            assert resp.status_code == 200, (path, resp.status_code)
            assert hashlib.sha256(resp.data).hexdigest() == ref["sha256"]
        assert b.client.get(path).status_code == 404
        assert world.app.test_client().get(path).status_code == 401
