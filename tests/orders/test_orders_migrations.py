"""Migrations build the same schema as the models, on SQLite and PostgreSQL (no drift)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import orders.models  # noqa: F401
from orders.db import Base, make_engine
from orders.migrate import downgrade, upgrade


def test_migrated_schema_matches_models(backend: str, db_factory) -> None:  # type: ignore[no-untyped-def]
    url = db_factory.url(backend)
    engine = make_engine(url)
    with engine.connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(mc, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_downgrade_to_base_and_up_again(backend: str, db_factory) -> None:  # type: ignore[no-untyped-def]
    url = db_factory.url(backend)
    downgrade(url, "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()
