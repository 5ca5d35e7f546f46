"""Test-data factories: each call makes fresh rows; nothing mutable is shared between tests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

import configurator
from orders.commands.accounts import create_user
from orders.commands.designs import save_configuration
from orders.models import ProductConfiguration, Role, User
from orders.seed import seed_shop
from orders.settings import Settings


def make_user(session: Session, role: Role = Role.CUSTOMER) -> User:
    return create_user(
        session, f"{role.value}-{uuid.uuid4().hex[:8]}@test.example", "correct horse battery", role
    )


def make_configuration(
    session: Session, family: str = "enclosure", **overrides: Any
) -> ProductConfiguration:
    raw = {**configurator.get_family(family).default_raw(), **overrides}
    return save_configuration(session, family, raw)


def make_shop(session: Session) -> None:
    seed_shop(session)


def make_settings(tmp_path: Path, database_url: str, **extra: object) -> Settings:
    values: dict[str, object] = {
        "var_dir": tmp_path / "var",
        "database_url": database_url,
        "artifact_dir": tmp_path / "artifacts",
        "secret_key": "test-secret",
        "redis_url": None,
        "inprocess_jobs": "sync",
    }
    return Settings(**{**values, **extra})  # type: ignore[arg-type]


def released_plan(ctx: Any, qty: int = 4, family: str = "enclosure") -> tuple[int, int]:
    """One placed order, built, planned, approved and released: (order id, schedule version)."""
    from orders.adapters.outbox import flush_enqueues
    from orders.commands.audit import Actor
    from orders.commands.ordering import LineRequest, place_order
    from orders.commands.planning import approve, request_plan
    from orders.commands.release import release

    with ctx.db.transaction() as s:
        make_shop(s)
        user = make_user(s)
        cfg = make_configuration(s, family)
        oid = place_order(
            s,
            user.id,
            [LineRequest(cfg.id, qty)],
            f"k-{uuid.uuid4().hex[:6]}",
            Actor("c", user.id),
            "PKR",
        ).order.id
    flush_enqueues(ctx)
    sid = request_plan(ctx, "due_dates", 5, 14, Actor("planner"))
    with ctx.db.transaction() as s:
        approve(s, sid, Actor("planner"))
        return oid, release(s, sid, Actor("planner")).version
