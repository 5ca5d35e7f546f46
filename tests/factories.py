"""Test-data factories: each call makes fresh rows; nothing mutable is shared between tests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

import configurator
from orders.models import ProductConfiguration, Role, User
from orders.seed import seed_shop
from orders.services.accounts import create_user
from orders.services.catalog import save_configuration
from orders.settings import Settings


def make_user(session: Session, role: Role = Role.CUSTOMER) -> User:
    return create_user(session, f"{role.value}-{uuid.uuid4().hex[:8]}@test.example",
                       "correct horse battery", role)  # fmt: skip


def make_configuration(
    session: Session, family: str = "enclosure", **overrides: Any
) -> ProductConfiguration:
    raw = {**configurator.get_family(family).default_raw(), **overrides}
    return save_configuration(session, family, raw)


def make_shop(session: Session) -> None:
    seed_shop(session)


def make_settings(tmp_path: Path, database_url: str, **extra: object) -> Settings:
    values: dict[str, object] = {"var_dir": tmp_path / "var", "database_url": database_url,
                                 "artifact_dir": tmp_path / "artifacts",
                                 "secret_key": "test-secret", "redis_url": None,
                                 "inprocess_jobs": "sync"}  # fmt: skip
    return Settings(**{**values, **extra})  # type: ignore[arg-type]
