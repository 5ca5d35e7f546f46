"""Sheets a laser job used, taken from sheet stock on its completion or scrap.

Called from `stock.consume_for_job` (which `floor_events` calls on every completion and scrap),
with the filament ledger's rules: each part counted once, one move per floor event, never below
zero, a shortfall recorded as a discrepancy (move and audit event) for a count.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.commands.audit import Actor, record_event
from orders.models import MoveKind, Operation, StockItem, StockMove
from orders.queries.sheets import sheet_need_of, sheet_stack_for


def _move(session: Session, item: StockItem, kind: MoveKind, actor: Actor, **kw: object) -> None:
    session.add(StockMove(item_id=item.id, kind=kind, by=actor.label[:255], **kw))


def _event(session: Session, actor: Actor, item: StockItem, what: str, **body: object) -> None:
    record_event(session, actor, "stock_item", item.id, None, what, body)


def consume_sheets(
    session: Session,
    op: Operation,
    job_order: str,
    event_id: str,
    actor: Actor,
    scrapped: int | None,
) -> int:
    """The sheets a completed or scrapped laser job cut its parts from, by the pricing's rule
    (outline box times the nesting factor): whole sheets per event, a sheet once started is
    used. Taken from the stack of that material and thickness (`sheets.sheet_stack_for`);
    none recorded, nothing tracked. Returns the sheets taken."""
    need = sheet_need_of(session, op)
    if need is None or need.parts_open == 0:
        return 0
    found = sheet_stack_for(session, need)
    if found is None:
        return 0
    stack = session.get_one(StockItem, found.id, with_for_update=True, populate_existing=True)
    key = f"job:{op.id}:{event_id}"
    if session.scalar(select(StockMove.id).where(StockMove.idempotency_key == key)):
        return 0
    parts = need.parts_open if scrapped is None else min(scrapped, need.parts_open)
    wanted = need.sheets(parts)
    taken = min(wanted, stack.sheets_left)
    stack.sheets_left -= taken
    what = "scrap" if scrapped is not None else "completion"
    _move(session, stack, MoveKind.CONSUME, actor, sheets=-taken, operation_id=op.id,
          parts=parts, idempotency_key=key, note=f"{what} of {job_order}")  # fmt: skip
    _event(session, actor, stack, "consumed", job_order_id=job_order, sheets=taken, parts=parts)
    if wanted > taken:
        short = wanted - taken
        _move(session, stack, MoveKind.DISCREPANCY, actor, operation_id=op.id,
              note=f"{job_order} needed {short} sheet(s) more than recorded")  # fmt: skip
        _event(session, actor, stack, "discrepancy", job_order_id=job_order, missing_sheets=short)
    return taken
