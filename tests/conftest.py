"""Shared test plumbing: real PostgreSQL, Redis and Mosquitto, or a loud stop naming the gap.

Database fixtures are factories over a migrated template, so every test gets its own
fresh database (SQLite file or PostgreSQL database) and nothing mutable is shared.

Redis is private to the session: one `redis-server` of our own on a free port, started on first
use and stopped at the end (also on failure or Ctrl-C); each test that needs Redis gets a database
number of its own on it (`redis_url`). No test talks to a shared Redis, so two runs on one machine
never take or wipe each other's queues.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
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
from private_services import PrivateRedis  # noqa: E402

from orders import migrate  # noqa: E402
from orders.commands import accounts as _accounts  # noqa: E402
from orders.context import AppContext  # noqa: E402
from services import POSTGRES_URL, missing_services  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SESSION_REDIS_DATABASES = 4096  # one per Redis-using test, never reused

# Argon2 at its production cost takes a tenth of a second or more per password, and every seeded
# shop makes five users: in this process the tests hash with the cheapest parameters (same
# argon2id format, same checks). Processes the tests start (workers, servers) keep the real cost.
_accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

# A developer's own HUNAR_REDIS_URL (a shared server) must not reach the app or the processes the
# tests start: a test that wants Redis asks for `redis_url` and passes it on explicitly.
os.environ.pop("HUNAR_REDIS_URL", None)


def pytest_sessionstart(session: pytest.Session) -> None:
    problems = missing_services()
    if problems:
        msg = "Hunar's tests need real services; these are missing:\n  - " + "\n  - ".join(problems)
        pytest.exit(msg, returncode=3)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every PostgreSQL parametrisation is marked `postgres`, so `-m "not postgres"` (the fast
    lane, `make test-fast`) keeps the SQLite half of each persistence test."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "postgresql" in params.values():
            item.add_marker(pytest.mark.postgres)


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
    """Makes fresh migrated databases for one test; drops what it made afterwards.

    The PostgreSQL template is made on the first PostgreSQL database a session asks for, so a
    run of SQLite-only tests (`make test-fast`) never migrates one.
    """

    def __init__(
        self, tmp_path: Path, sqlite_template: Path, pg_template: Callable[[], str]
    ) -> None:
        self.tmp_path = tmp_path
        self.sqlite_template = sqlite_template
        self._pg_template = pg_template
        self.pg_created: list[str] = []

    @property
    def pg_template(self) -> str:
        return self._pg_template()

    def url(self, backend: str) -> str:
        if backend == "sqlite":
            path = self.tmp_path / f"db-{uuid.uuid4().hex[:8]}.sqlite3"
            shutil.copy(self.sqlite_template, path)
            return f"sqlite:///{path}"
        template = self.pg_template
        name = f"hunar_t_{uuid.uuid4().hex[:12]}"
        with _admin_engine().connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
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
    factory = DatabaseFactory(
        tmp_path, sqlite_template, lambda: str(request.getfixturevalue("pg_template"))
    )
    yield factory
    factory.cleanup()


@pytest.fixture(autouse=True)
def _background_jobs_end_with_their_test() -> Iterator[None]:
    """In-process background jobs (thread mode: previews and builds a web test set off) that a
    test leaves queued are dropped when it ends: nobody waits for them any more, and they would
    otherwise run during later tests, one after another, and hold up the interpreter's exit."""
    yield
    from orders.adapters import queue

    pool, queue._pool = queue._pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)  # the one already running finishes


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """This session's own redis-server (no persistence, free port), stopped when the session ends.

    The fixture's teardown runs at session end, on failures and on Ctrl-C too; atexit covers an
    interpreter that exits some other way, and the server dies with us if we are killed.
    """
    server = PrivateRedis(tmp_path_factory.mktemp("redis"), databases=SESSION_REDIS_DATABASES)
    atexit.register(server.stop)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        atexit.unregister(server.stop)


@pytest.fixture
def redis_url(redis_server: PrivateRedis) -> Iterator[str]:
    """A Redis database of this test's own (empty) on the session's private server.

    Pass it on explicitly: `make_settings(..., redis_url=redis_url)`, and `HUNAR_REDIS_URL` in the
    environment of the workers, servers or CLI commands the test starts.
    """
    url = redis_server.fresh_db_url()
    yield url
    redis_server.flush(url)  # our private server: nothing shared is touched


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
