"""Queue job functions. Each takes `(ctx, *ids, job_record_id)`, loads its rows and records
its outcome, so running it twice is safe. They are enqueued with `ctx.queue.enqueue(...)`."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

if TYPE_CHECKING:
    from orders.context import AppContext


def health_check(ctx: AppContext, *_ids: int | str, job_record_id: str) -> dict[str, Any]:
    """Prove that a worker can take a job, reach the database and report back."""
    with ctx.db.sessions() as s:
        s.execute(text("select 1"))
    return {"host": socket.gethostname(), "pid": os.getpid(), "record": job_record_id}
