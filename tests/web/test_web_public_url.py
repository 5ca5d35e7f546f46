"""Absolute links (job-packet files, order-line QR codes) point where the shop really is:
HUNAR_PUBLIC_URL when set, otherwise the host of the request that made them."""

from __future__ import annotations

from typing import Any

from floor_helpers import PLANNER, Floor, MakeFloor
from sqlalchemy import select

from orders.commands.planning import approve, request_plan
from orders.models import OutboxMessage, Role
from orders.settings import Settings


def _urls(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [u for v in value.values() for u in _urls(v)]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return [value] if isinstance(value, str) and value.startswith("http") else []


def _move_session(client: Any, base_url: str) -> None:
    """The signed-in session, also sent to the host the next requests go to."""
    host = base_url.split("://", 1)[1].split(":")[0]
    for name in ("session", "remember_token"):
        cookie = client.get_cookie(name)
        if cookie is not None:
            client.set_cookie(name, cookie.value, domain=host)


def _release_through_the_planner_page(floor: Floor, base_url: str) -> list[str]:
    """Place, plan and approve; release by the planner's button on `base_url`; the links
    written into the job orders for the floor."""
    floor.place(2)
    sid = request_plan(floor.ctx, "due_dates", 3, 14, PLANNER)
    with floor.ctx.db.transaction() as s:
        approve(s, sid, PLANNER)
    planner = floor.login(Role.PLANNER)
    _move_session(planner.client, base_url)
    resp = planner.post(f"/planner/schedules/{sid}/release", base_url=base_url)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    with floor.ctx.db.sessions() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "job_order")).all()
        urls = [u for row in rows for u in _urls(row.payload)]
    assert urls, "the released job orders carry no links"
    return urls


def test_the_public_url_is_optional_and_has_no_default_host() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.public_url is None
    assert settings.base_url() is None
    assert settings.base_url("http://10.0.0.7:8000/") == "http://10.0.0.7:8000"
    fixed = Settings(_env_file=None, public_url="https://hunar.example.com/")  # type: ignore[call-arg]
    assert fixed.base_url("http://10.0.0.7:8000/") == "https://hunar.example.com"


def test_without_a_public_url_packet_links_use_the_releasing_request_host(
    make_floor: MakeFloor,
) -> None:
    floor = make_floor(public_url=None)
    urls = _release_through_the_planner_page(floor, "http://shop.lan:8080")
    assert all(u.startswith("http://shop.lan:8080/") for u in urls), urls
    assert any("/api/artifacts/" in u for u in urls)
    assert not any("127.0.0.1:5000" in u for u in urls)


def test_a_set_public_url_wins_over_the_request_host(make_floor: MakeFloor) -> None:
    floor = make_floor(public_url="https://hunar.example.com")
    urls = _release_through_the_planner_page(floor, "http://10.0.0.7:8000")
    assert all(u.startswith("https://hunar.example.com/") for u in urls), urls


def test_the_operator_packet_links_follow_the_same_rule(make_floor: MakeFloor) -> None:
    floor = make_floor(public_url=None)
    floor.place(2)
    floor.release_plan()
    job, machine, _ = floor.first_job()
    operator = floor.login(Role.OPERATOR, machine)
    _move_session(operator.client, "http://station.lan:9000")
    page = operator.client.get(f"/operator/job/{job}/traveler", base_url="http://station.lan:9000")
    assert page.status_code == 200
    assert "http://station.lan:9000/operator/job/" in page.get_data(as_text=True)
