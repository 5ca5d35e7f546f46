"""What a service or job needs to run: settings, the database and the queue, built explicitly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orders.db import Database
from orders.settings import Settings, load_settings

if TYPE_CHECKING:
    from orders.adapters.queue import JobQueue


@dataclass
class AppContext:
    settings: Settings
    db: Database
    _queue: JobQueue | None = field(default=None, repr=False)

    @property
    def queue(self) -> JobQueue:
        if self._queue is None:
            from orders.adapters.queue import JobQueue

            self._queue = JobQueue(self)
        return self._queue

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        return cls(settings=settings, db=Database.from_settings(settings))

    def close(self) -> None:
        self.db.dispose()


_worker_context: AppContext | None = None


def worker_context() -> AppContext:
    """The per-process context used by RQ workers, built once from the environment."""
    global _worker_context
    if _worker_context is None:
        _worker_context = AppContext.from_settings(load_settings())
    return _worker_context
