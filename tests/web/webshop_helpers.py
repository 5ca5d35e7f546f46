"""Web test helpers: an app on a fresh seeded database, and a signed-in shopper factory."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from orders.commands.accounts import create_user, issue_token
from orders.context import AppContext
from orders.models import Role
from orders.seed import seed_shop
from orders.settings import Settings
from web import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"
ENCLOSURE = {"inner_length": 80, "inner_width": 50, "inner_height": 30, "wall": 2.0}


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@dataclass
class Shopper:
    """A browser-like test client signed in as one user, with its CSRF token at hand."""

    client: FlaskClient
    user_id: int
    email: str
    csrf: str

    def post_form(self, url: str, data: dict[str, Any], **kw: Any) -> Any:
        return self.client.post(url, data={"csrf_token": self.csrf, **data}, **kw)

    def api(self, method: str, url: str, body: Any = None) -> Any:
        return self.client.open(url, method=method, json=body, headers={"X-CSRFToken": self.csrf})


@dataclass
class WebShop:
    app: Flask
    ctx: AppContext

    def user(self, role: Role = Role.CUSTOMER, email: str | None = None) -> int:
        email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
        with self.ctx.db.transaction() as s:
            return create_user(s, email, PASSWORD, role).id

    def token(self, user_id: int) -> str:
        from orders.models import User

        with self.ctx.db.transaction() as s:
            return issue_token(s, s.get_one(User, user_id), f"test {uuid.uuid4().hex[:6]}")

    def shopper(self, role: Role = Role.CUSTOMER) -> Shopper:
        email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
        user_id = self.user(role, email)
        client = self.app.test_client()
        token = csrf_of(client.get("/login").get_data(as_text=True))
        resp = client.post(
            "/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return Shopper(
            client, user_id, email, csrf_of(client.get("/account").get_data(as_text=True))
        )

    def save_design(self, shopper: Shopper, params: dict[str, Any] | None = None) -> int:
        resp = shopper.api(
            "POST", "/api/configurations", {"family": "enclosure", "params": params or ENCLOSURE}
        )
        assert resp.status_code == 201, resp.json
        return int(resp.json["id"])


MakeShop = Callable[..., WebShop]


def settings_for(root: Path, database_url: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "var_dir": root / "var",
        "database_url": database_url,
        "artifact_dir": root / "artifacts",
        "secret_key": "test-secret",
        "redis_url": None,
    }
    return Settings(**{**values, **extra})


@pytest.fixture(name="make_shop")
def shop_fixture(db_factory: Any, tmp_path: Path, artifact_cache: Path) -> Iterator[MakeShop]:
    """Factory: a seeded shop app on a fresh database of the given backend.

    CAD files go to the session's content-addressed store (a design built once is a cache hit
    afterwards); a test that must watch a real build passes `artifact_dir` of its own.

    Test modules import `shop_fixture` (pytest registers it as `make_shop`), also from
    tests/web/security/; tests/web/conftest.py holds only the planner floor's `make_floor`.
    """
    made: list[AppContext] = []

    def make(
        backend: str = "sqlite", limits: dict[str, tuple[int, int]] | None = None, **settings: Any
    ) -> WebShop:
        root = tmp_path / uuid.uuid4().hex[:6]
        settings.setdefault("artifact_dir", artifact_cache)
        app = create_app(settings_for(root, db_factory.url(backend), **settings))
        if limits is not None:
            app.config["HUNAR_RATE_LIMITS"] = limits
        ctx: AppContext = app.extensions["hunar"]
        with ctx.db.transaction() as s:
            seed_shop(s)
        made.append(ctx)
        return WebShop(app, ctx)

    yield make
    for ctx in made:
        ctx.close()
