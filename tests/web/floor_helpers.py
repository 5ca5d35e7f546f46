"""Planner/operator test plumbing: a seeded app on a fresh database, signed-in staff clients,
and a released plan built through the real services (order → CAD → plan → approve → release)."""

from __future__ import annotations

import re
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import make_url

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
from orders.lifecycle import Status  # noqa: E402
from orders.models import Assignment, Operation, Order, OrderLine, Role, Schedule  # noqa: E402
from orders.seed import seed_shop  # noqa: E402
from orders.settings import Settings  # noqa: E402
from services import POSTGRES_URL  # noqa: E402
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

    def person(self, role: Role, station: str | list[str] | None = None) -> tuple[int, str]:
        """A new active user of `role` (an operator on `station`): (user id, e-mail)."""
        email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
        with self.ctx.db.transaction() as s:
            return create_user(s, email, PASSWORD, role, f"T {role.value}", station).id, email

    def login(self, role: Role, station: str | None = None) -> Staff:
        uid, email = self.person(role, station)
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

    def released_jobs(self, order_id: int) -> list[tuple[str, str, int]]:
        """(job order id, machine, operation id) of the order's released jobs, in routing
        order."""
        with self.ctx.db.sessions() as s:
            plan = s.scalars(select(Schedule).where(Schedule.state == "released")).one()
            rows = s.execute(
                select(Assignment.operation_id, Assignment.machine_id)
                .join(Operation, Operation.id == Assignment.operation_id)
                .join(OrderLine, OrderLine.id == Operation.order_line_id)
                .where(Assignment.schedule_id == plan.id, OrderLine.order_id == order_id)
                .order_by(Operation.order_line_id, Operation.seq)
            ).all()
            return [(job_order_id(op, plan.version), machine, op) for op, machine in rows]

    def order_status(self, order_id: int) -> Status:
        with self.ctx.db.sessions() as s:
            return s.get_one(Order, order_id).status


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


class ModuleDatabases:
    """Fresh databases that outlive one test (for a module-scoped app): a copy of the SQLite
    template, or a PostgreSQL database made from the migrated template; `prefix` names them."""

    def __init__(
        self, tmp: Path, sqlite_template: Path, request: pytest.FixtureRequest, prefix: str
    ) -> None:
        self.tmp, self.template, self.request, self.prefix = tmp, sqlite_template, request, prefix
        self.made: list[str] = []

    def url(self, backend: str) -> str:
        if backend == "sqlite":
            path = self.tmp / f"{self.prefix}-{uuid.uuid4().hex[:8]}.sqlite3"
            shutil.copy(self.template, path)
            return f"sqlite:///{path}"
        template = str(self.request.getfixturevalue("pg_template"))
        name = f"hunar_{self.prefix}_{uuid.uuid4().hex[:10]}"
        with _pg_admin() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        self.made.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def drop(self) -> None:
        for name in self.made:
            with _pg_admin() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _pg_admin() -> Any:
    return sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT").connect()


def module_floor(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    artifact_cache: Path,
    prefix: str,
    **extra: Any,
) -> Iterator[Floor]:
    """For a module-scoped fixture parametrised by engine (`request.param`): one seeded app on a
    fresh database of that engine, `extra` settings on top; closed and dropped afterwards."""
    tmp = tmp_path_factory.mktemp(f"{prefix}-{request.param}")
    dbs = ModuleDatabases(tmp, sqlite_template, request, prefix)
    floors = floor_factory(dbs, tmp, artifact_cache)
    try:
        yield next(floors)(request.param, **extra)
    finally:
        next(floors, None)
        dbs.drop()
