"""What became of the last print cancelled on each printer, for the fleet board.

The cancel itself is `commands/fleet_cancel.py`; the printer hears it through a `cancel` outbox
row. A printer that cannot be stopped remotely answers `Unsupported`, and the dispatcher closes
the row with `HAND_STOP` in its receipt: the board says so, and the planner stops it by hand.
One query for the whole fleet.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mes_bridge.dispatch import HAND_STOP
from orders.models import OutboxMessage, OutboxStatus

KIND = "cancel"


def cancel_notes(session: Session) -> dict[str, str]:
    """Per printer, the state of its newest cancel request, in words."""
    newest = (
        select(func.max(OutboxMessage.id))
        .where(OutboxMessage.kind == KIND)
        .group_by(OutboxMessage.destination)
    )
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(newest)))
    return {row.destination: _note(row) for row in rows}


def _note(row: OutboxMessage) -> str:
    job = str(row.payload.get("job_order_id", ""))
    if row.status == OutboxStatus.PENDING:
        waiting = f" ({row.last_error})" if row.last_error else ""
        return f"cancel of {job}: not yet confirmed by the printer{waiting}"
    if row.status == OutboxStatus.DEAD:
        return f"cancel of {job} failed ({row.last_error}): {HAND_STOP}"
    detail = str((row.receipt or {}).get("detail", ""))
    if detail.startswith(HAND_STOP):
        return f"cancel of {job}: {HAND_STOP}"
    return f"{job} cancelled on the printer"
