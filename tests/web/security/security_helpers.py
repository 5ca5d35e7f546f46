"""A seeded world for the security sweep: two customers with orders, a released plan with job
orders on a printer, operators on two stations, a planner and an admin, all signed in.

The world is built once per test module (CAD build + CP-SAT plan take seconds) through the real
services and HTTP routes; tests that change state say so and only change what they own.
Not a conftest.py: a second `conftest` module on sys.path would shadow tests/conftest.py.
"""

from __future__ import annotations

import re
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/web: floor_helpers

from floor_helpers import Floor, floor_factory  # noqa: E402

from orders.commands.accounts import create_user
from orders.context import AppContext  # noqa: E402
from orders.models import Artifact, Role  # noqa: E402

PASSWORD = "correct horse battery"
META_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
FORM_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROLES = ("anonymous", "customer", "planner", "operator", "admin")
DESIGN_A = {"inner_length": 84, "inner_width": 52, "inner_height": 31, "wall": 2.0}
DESIGN_B = {"inner_length": 71, "inner_width": 44, "inner_height": 27, "wall": 2.0}


@dataclass
class Client:
    """A test client with its session's CSRF token; `user_id` is None for anonymous."""

    client: FlaskClient
    csrf: str
    user_id: int | None = None
    email: str = ""

    def form(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kw)

    def api(self, method: str, url: str, body: Any = None) -> Any:
        return self.client.open(url, method=method, json=body, headers={"X-CSRFToken": self.csrf})


@dataclass
class World:
    app: Flask
    ctx: AppContext
    floor: Floor
    config_a: int
    order_a: int
    artifact_a: int
    config_b: int
    order_b: int
    schedule_id: int
    job: str
    machine: str
    other_machine: str
    users: dict[str, tuple[str, int]] = field(default_factory=dict)
    clients: dict[str, Client] = field(default_factory=dict)

    def login(self, who: str) -> Client:
        """A fresh signed-in client for a user of the world ("anonymous" → not signed in)."""
        client = self.app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = FORM_CSRF.search(page).group(1)  # type: ignore[union-attr]
        if who == "anonymous":
            return Client(client, token)
        email, uid = self.users[who]
        resp = client.post(
            "/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
        )
        assert resp.status_code == 302, (who, resp.status_code)
        meta = META_CSRF.search(client.get("/account").get_data(as_text=True))
        assert meta, f"no csrf meta for {who}"
        return Client(client, meta.group(1), uid, email)

    def shared(self, who: str) -> Client:
        """One signed-in client per user for tests that keep the session as it is (logging in
        costs a password hash, and the parametrised tests would pay it per case)."""
        known = self.clients.get(who)
        # signing out ends every session of that user (a test may have signed out elsewhere)
        if known is None or (who != "anonymous" and known.client.get("/api/me").status_code != 200):
            self.clients[who] = self.login(who)
        return self.clients[who]

    def add_user(
        self, key: str, role: Role, station: str | None = None, name: str | None = None
    ) -> int:
        email = f"{key}-{uuid.uuid4().hex[:6]}@example.com"
        with self.ctx.db.transaction() as s:
            uid = create_user(s, email, PASSWORD, role, name or f"T {key}", station).id
        self.users[key] = (email, uid)
        return uid


def _place(world_floor: Floor, who: Client, design: dict[str, Any]) -> tuple[int, int]:
    resp = who.api("POST", "/api/configurations", {"family": "enclosure", "params": design})
    assert resp.status_code == 201, resp.json
    config_id = int(resp.json["id"])
    resp = who.api(
        "POST",
        "/api/orders",
        {
            "lines": [{"configuration_id": config_id, "quantity": 2}],
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    assert resp.status_code == 201, resp.json
    return config_id, int(resp.json["id"])


def build_world(floor: Floor) -> World:
    """Customers A and B each order a design over HTTP; the plan is released via services."""
    w = World(floor.app, floor.ctx, floor, 0, 0, 0, 0, 0, 0, "", "", "")
    for key, role in (
        ("customer", Role.CUSTOMER),
        ("customer_b", Role.CUSTOMER),
        ("planner", Role.PLANNER),
        ("admin", Role.ADMIN),
    ):
        w.add_user(key, role)
    a, b = w.login("customer"), w.login("customer_b")
    w.config_a, w.order_a = _place(floor, a, DESIGN_A)
    w.config_b, w.order_b = _place(floor, b, DESIGN_B)
    with w.ctx.db.sessions() as s:
        art = s.scalar(select(func.min(Artifact.id)).where(Artifact.configuration_id == w.config_a))
    assert art is not None, "the CAD build stored no artifact for customer A's design"
    w.artifact_a = int(art)
    w.schedule_id, _ = floor.release_plan()
    w.job, w.machine, _ = floor.first_job()
    w.other_machine = "fdm-mk4-03" if w.machine != "fdm-mk4-03" else "fdm-mk4-02"
    w.add_user("operator", Role.OPERATOR, w.machine)
    w.add_user("operator_b", Role.OPERATOR, w.other_machine)
    w.add_user("staff", Role.OPERATOR, "qc-01")  # the admin page's sample person
    return w


@dataclass
class _SqliteCopy:
    """A fresh copy of the migrated SQLite template (not `conftest.DatabaseFactory`: the name
    `conftest` is whichever conftest pytest imported last)."""

    tmp: Path
    template: Path

    def url(self, backend: str) -> str:
        assert backend == "sqlite", "the security world runs on SQLite"
        path = self.tmp / f"world-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copy(self.template, path)
        return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, artifact_cache: Path
) -> Iterator[World]:
    """One world per test module (SQLite; the role checks do not depend on the engine)."""
    tmp = tmp_path_factory.mktemp("secworld")
    gen = floor_factory(_SqliteCopy(tmp, sqlite_template), tmp, artifact_cache)
    make = next(gen)
    yield build_world(make(floor_webhook_secret="sweep-secret"))
    next(gen, None)
