"""Engine and session factory. Nothing connects at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from orders.settings import Settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so Alembic diffs are stable on both engines."""

    metadata = MetaData(naming_convention=NAMING)


# How long a writer waits for SQLite's write lock before "database is locked" (a 503): longer
# than any write transaction of the app on a loaded 2-core machine, shorter than gunicorn's
# 30 s worker timeout. One number for the driver's timeout and the PRAGMA (which wins).
SQLITE_BUSY_S = 15


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_S * 1000}")
    cur.close()


WRITE = {"hunar_write": True}  # execution option of a `transaction()`


def _sqlite_begin(conn: Connection) -> None:
    """A write transaction takes SQLite's write lock when it begins (waiting up to the busy
    timeout), so what it reads is what it updates: no lost update, and no stale-snapshot error
    when it reads and then writes while another writer commits. Read sessions begin deferred;
    under WAL they never block a writer."""
    immediate = conn.get_execution_options().get("hunar_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    """An engine with pool pre-ping (recovers after a database restart) and SQLite pragmas."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_S}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


class Database:
    """Owns one engine and its session factory; created explicitly, never at import."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        if not settings.database_url:
            settings.var_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings.resolved_database_url())

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one write transaction: commit on success, roll back on any error.

        On SQLite it holds the write lock from its start (PostgreSQL gets the same guarantees
        from the commands' row locks and unique keys). So a transaction must not wait on another
        transaction of its own thread: do slow or external work (the queue) outside it.
        """
        with self.sessions() as session, session.begin():
            session.connection(execution_options=WRITE)
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
