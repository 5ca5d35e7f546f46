"""Shared test plumbing: real PostgreSQL, Redis and Mosquitto, or a loud stop naming the gap.

Database fixtures are factories over a migrated template, so every test gets its own
fresh database (SQLite file or PostgreSQL database) and nothing mutable is shared.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))

# Hypothesis keeps its cache outside the working tree (tests never write into the checkout).
from hypothesis import configuration as _hypothesis_configuration  # noqa: E402

_hypothesis_configuration.set_hypothesis_home_dir(
    str(Path(tempfile.gettempdir()) / "hunar-hypothesis")
)
# CI explores a fixed sample (reproducible runs); developers' runs explore new examples each time.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

from factories import make_settings  # noqa: E402

from orders import migrate  # noqa: E402
from orders.context import AppContext  # noqa: E402
from services import POSTGRES_URL, missing_services  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def pytest_sessionstart(session: pytest.Session) -> None:
    problems = missing_services()
    if problems:
        msg = "Hunar's tests need real services; these are missing:\n  - " + "\n  - ".join(problems)
        pytest.exit(msg, returncode=3)


def _admin_engine() -> sa.Engine:
    return sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database used as a template for per-test databases."""
    name = f"hunar_tpl_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


class DatabaseFactory:
    """Makes fresh migrated databases for one test; drops what it made afterwards."""

    def __init__(self, tmp_path: Path, sqlite_template: Path, pg_template: str | None) -> None:
        self.tmp_path = tmp_path
        self.sqlite_template = sqlite_template
        self.pg_template = pg_template
        self.pg_created: list[str] = []

    def url(self, backend: str) -> str:
        if backend == "sqlite":
            path = self.tmp_path / f"db-{uuid.uuid4().hex[:8]}.sqlite3"
            shutil.copy(self.sqlite_template, path)
            return f"sqlite:///{path}"
        assert self.pg_template is not None
        name = f"hunar_t_{uuid.uuid4().hex[:12]}"
        with _admin_engine().connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{self.pg_template}"'))
        self.pg_created.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def cleanup(self) -> None:
        if not self.pg_created:
            return
        admin = _admin_engine()
        with admin.connect() as conn:
            for name in self.pg_created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run a persistence test once on SQLite and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture
def db_factory(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[DatabaseFactory]:
    pg = request.getfixturevalue("pg_template")
    factory = DatabaseFactory(tmp_path, sqlite_template, pg)
    yield factory
    factory.cleanup()


@pytest.fixture(scope="session")
def artifact_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One content-addressed artifact store for the session: same design, same files, built once.

    Sharing it is safe by design (keys are config hash + builder version, writes are atomic).
    """
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture
def ctx(
    backend: str, db_factory: DatabaseFactory, tmp_path: Path, artifact_cache: Path
) -> Iterator[AppContext]:
    """An application context on a fresh database of the parametrised backend, jobs in-process."""
    settings = make_settings(tmp_path, db_factory.url(backend), artifact_dir=artifact_cache)
    context = AppContext.from_settings(settings)
    yield context
    context.close()
