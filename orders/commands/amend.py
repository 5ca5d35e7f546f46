"""Amending an order line: its quantity and lead-time tier may change until its design goes to
CAD (`order_story.amend_blocker`), because from cad_ready on the line's operations, and so the
plan and the floor, are sized from them.

The change is priced and promised exactly as placing is (`designs.price_line`, the same
orderability rule), under a lock on the order row: of two amends at once one applies and the
other sees its result, so a repeated identical amend is "already done", not a second change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orders.commands.audit import Actor, record_event
from orders.commands.designs import price_line
from orders.commands.notify import order_amended
from orders.commands.payments import refuse_if_invoiced
from orders.errors import DomainError, NotFound, NotMakeable
from orders.lifecycle import Status
from orders.models import Event, Operation, Order, OrderLine, ProductConfiguration, Quote, Role
from orders.queries.catalog import check_quantity_tier, load_config
from orders.queries.designs import finding_text, live_quote
from orders.queries.order_story import AMENDED, amend_blocker

NEEDS_NEW_DESIGN = (
    "line {line} is on hold because its design cannot be made as it is: a different quantity "
    "or lead time does not change that. Configure a new design in the shop and order it, and "
    "cancel this order from its page"
)
TOO_LATE = (
    "line {line} can no longer be changed online: its design has been prepared for making "
    "({status}). Please contact us, or cancel the order while that is still possible"
)


class AmendRefused(DomainError):
    """The line is past the point where its quantity or lead time can change (422)."""

    code = "amend_not_allowed"


@dataclass(frozen=True)
class Amended:
    order_id: int
    line_id: int
    changed: bool  # False: the line already had this quantity and tier (a repeat)
    total: Decimal
    promised_ship_date: date | None


@dataclass(frozen=True)
class _Customer:
    """The order's customer as the viewer of their design (the quote sees what they may)."""

    id: int
    role: str = Role.CUSTOMER


def _locked_line(
    session: Session, order_id: int, line_id: int, customer_id: int | None
) -> tuple[Order, OrderLine]:
    """The order row locked and re-read, and its line; someone else's order is not found."""
    order = session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFound(f"order {order_id} not found", fields={"order": "no such order"})
    session.refresh(order, ["lines"])
    line = next((ln for ln in order.lines if ln.id == line_id), None)
    if line is None:
        raise NotFound(
            f"order {order_id} has no line {line_id}",
            fields={"line_id": "not a line of this order"},
        )
    return order, line


def _check_allowed(session: Session, line: OrderLine) -> None:
    """Refuse, naming the rule, once the line's design went to CAD or if the design is at fault."""
    hold = session.scalars(
        select(Event)
        .where(
            Event.entity_type == "order_line",
            Event.entity_id == str(line.id),
            Event.to_state == Status.ON_HOLD.value,
        )
        .order_by(Event.id.desc())
        .limit(1)
    ).first()
    has_ops = session.scalar(
        select(Operation.id).where(Operation.order_line_id == line.id).limit(1)
    )
    status = Status(line.status)
    blocker = amend_blocker(
        status, has_ops is not None, line.hold_reason, hold.payload if hold else None
    )
    if line.parent_line_id is not None:
        blocker = "started"  # a remake of scrapped parts is ours, at no cost: not the customer's
    if blocker == "design":
        raise AmendRefused(
            NEEDS_NEW_DESIGN.format(line=line.id), fields={"line_id": "needs a new design"}
        )
    if blocker is not None:
        raise AmendRefused(
            TOO_LATE.format(line=line.id, status=status.value.replace("_", " ")),
            fields={"line_id": "its design went to production preparation"},
        )


def _check_orderable(
    session: Session, order: Order, row: ProductConfiguration, quantity: int, tier: str
) -> None:
    """The rule of placing: some machine can make this many, CAD found nothing it cannot make,
    and a date can be promised; each refusal names the field that would have to change."""
    lq = live_quote(
        session,
        load_config(row),
        quantity,
        tier,
        order.currency,
        viewer=_Customer(order.customer_id),
    )
    if lq.feasibility.ok and lq.blocking:
        why = "; ".join(finding_text(f) for f in lq.blocking)
        raise NotMakeable(f"the design cannot be made as it is: {why}", fields={"line_id": why})
    if not lq.feasibility.ok:
        why = "; ".join(r.message for r in lq.feasibility.reasons) or "no machine can make it"
        raise DomainError(
            f"{quantity} units cannot be made: {why}", fields={"quantity": "cannot be made"}
        )
    if not lq.promise.ok:
        raise DomainError(
            f"no ship date can be promised for {quantity} units at the {tier} lead time",
            fields={"tier": "no date can be promised; try a longer lead time or fewer units"},
        )


def amend_line(
    session: Session,
    order_id: int,
    line_id: int,
    quantity: object,
    tier: object,
    actor: Actor,
    *,
    customer_id: int | None = None,
) -> Amended:
    """Change one line's quantity and tier (the customer's own order with `customer_id`): a new
    quote row, the new price and promised date, the order total following, an `amended` event
    with old → new and a confirmation e-mail, all in the caller's transaction."""
    order, line = _locked_line(session, order_id, line_id, customer_id)
    row = session.get_one(ProductConfiguration, line.configuration_id)
    qty, new_tier = check_quantity_tier(quantity, tier, row.family_key)
    if line.quantity == qty and line.tier == new_tier:
        return Amended(order.id, line.id, False, order.total, line.promised_ship_date)
    refuse_if_invoiced(session, order.id)  # the issued invoice is the legal record of the bill
    _check_allowed(session, line)
    _check_orderable(session, order, row, qty, new_tier)
    quote = price_line(session, row, qty, new_tier, order.customer_id, order.currency)
    if quote.promised_ship_date is None:  # the book filled between the check and the quote
        raise DomainError(
            f"no ship date can be promised for {qty} units at the {new_tier} lead time",
            fields={"tier": "no date can be promised; try a longer lead time or fewer units"},
        )
    old_quote = session.get(Quote, line.quote_id) if line.quote_id is not None else None
    old_total = old_quote.total if old_quote is not None else line.unit_price * line.quantity
    before = (line.quantity, line.tier, str(line.unit_price), line.promised_ship_date, order.total)
    line.quantity, line.tier, line.quote_id = qty, new_tier, quote.id
    line.unit_price, line.promised_ship_date = quote.unit_price, quote.promised_ship_date
    order.total = (order.total - old_total + quote.total).quantize(Decimal("0.01"))
    after = (qty, new_tier, str(quote.unit_price), quote.promised_ship_date, order.total)
    names = ("quantity", "tier", "unit_price", "promised_ship_date", "order_total")
    payload: dict[str, object] = {
        name: [_plain(a), _plain(b)] for name, a, b in zip(names, before, after, strict=True)
    }
    payload |= {"order_id": order.id, "quote_id": quote.id, "currency": order.currency}
    event = record_event(session, actor, "order_line", line.id, None, AMENDED, payload)
    session.flush()
    order_amended(session, order, event)
    return Amended(order.id, line.id, True, order.total, line.promised_ship_date)


def _plain(value: object) -> object:
    """A JSON value for the event payload (dates and money as text)."""
    if isinstance(value, date | Decimal):
        return str(value)
    return value
