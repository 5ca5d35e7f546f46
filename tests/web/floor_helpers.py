"""Planner/operator test plumbing: a seeded app on a fresh database, signed-in staff clients,
and a released plan built through the real services (order → CAD → plan → approve → release)."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: factories

from factories import make_configuration  # noqa: E402

from mes_bridge.job_order_ids import job_order_id
from orders.adapters.outbox import flush_enqueues
from orders.commands.accounts import create_user
from orders.commands.audit import Actor
from orders.commands.ordering import LineRequest, place_order
from orders.commands.planning import approve, request_plan
from orders.commands.release import release
from orders.context import AppContext  # noqa: E402
from orders.models import Assignment, Operation, Role, Schedule  # noqa: E402
from orders.seed import seed_shop  # noqa: E402
from orders.settings import Settings  # noqa: E402
from web import create_app  # noqa: E402

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
PASSWORD = "correct horse battery"
PLANNER = Actor("planner")


@dataclass
class Staff:
    """A signed-in test client with the page's CSRF token."""

    client: FlaskClient
    user_id: int
    email: str
    csrf: str

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(url, data={"csrf_token": self.csrf, **(data or {})}, **kw)

    def post_json(self, url: str, data: dict[str, Any] | None = None) -> Any:
        return self.client.post(
            url,
            data={"csrf_token": self.csrf, **(data or {})},
            headers={"Accept": "application/json"},
        )


@dataclass
class Floor:
    app: Flask
    ctx: AppContext

    def login(self, role: Role, station: str | None = None) -> Staff:
        email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
        with self.ctx.db.transaction() as s:
            uid = create_user(s, email, PASSWORD, role, f"T {role.value}", station).id
        client = self.app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        resp = client.post(
            "/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
        csrf = CSRF.search(client.get("/account").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
        return Staff(client, uid, email, csrf)

    def place(self, qty: int = 2, tier: str = "standard", **design: Any) -> int:
        """One order of one line; `design` overrides enclosure parameters (e.g. colour)."""
        with self.ctx.db.transaction() as s:
            cust = create_user(s, f"c-{uuid.uuid4().hex[:8]}@example.com", PASSWORD, Role.CUSTOMER)
            cfg = make_configuration(s, **design)
            oid = place_order(
                s,
                cust.id,
                [LineRequest(cfg.id, qty, tier)],
                uuid.uuid4().hex,
                Actor("c", cust.id),
                "PKR",
            ).order.id
        flush_enqueues(self.ctx)
        return oid

    def release_plan(self, time_limit: float = 3) -> tuple[int, int]:
        """Propose, approve and release through the services; returns (schedule id, version)."""
        sid = request_plan(self.ctx, "due_dates", time_limit, 14, PLANNER)
        with self.ctx.db.transaction() as s:
            approve(s, sid, PLANNER)
            return sid, release(s, sid, PLANNER).version

    def first_job(self, machine_prefix: str = "fdm") -> tuple[str, str, int]:
        """(job order id, machine id, operation id) of the earliest released print job."""
        with self.ctx.db.sessions() as s:
            plan = s.scalars(select(Schedule).where(Schedule.state == "released")).one()
            a = s.scalars(
                select(Assignment)
                .join(Operation, Operation.id == Assignment.operation_id)
                .where(
                    Assignment.schedule_id == plan.id,
                    Assignment.machine_id.startswith(machine_prefix),
                )
                .order_by(Assignment.start, Assignment.operation_id)
            ).first()
            assert a is not None, "no released job on a " + machine_prefix
            return job_order_id(a.operation_id, plan.version), a.machine_id, a.operation_id


MakeFloor = Callable[..., Floor]


def floor_factory(db_factory: Any, tmp_path: Path, artifact_cache: Path) -> Iterator[MakeFloor]:
    made: list[AppContext] = []

    def make(backend: str = "sqlite", **extra: Any) -> Floor:
        root = tmp_path / uuid.uuid4().hex[:6]
        values: dict[str, Any] = {
            "var_dir": root / "var",
            "database_url": db_factory.url(backend),
            "artifact_dir": artifact_cache,
            "secret_key": "test-secret",
            "redis_url": None,
            "inprocess_jobs": "sync",
        }
        app = create_app(Settings(**{**values, **extra}))
        app.config["HUNAR_RATE_LIMITS"] = {}
        ctx: AppContext = app.extensions["hunar"]
        with ctx.db.transaction() as s:
            seed_shop(s)
        made.append(ctx)
        return Floor(app, ctx)

    yield make
    for ctx in made:
        ctx.close()
