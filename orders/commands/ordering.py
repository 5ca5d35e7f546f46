"""Placing orders: idempotent, all-or-nothing, with the lifecycle's event trail."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orders.commands.audit import Actor, record_event, transition
from orders.commands.checkout_payment import PaymentChoice, choose_method, may_produce, request_cad
from orders.commands.designs import price_line
from orders.commands.notify import order_placed
from orders.errors import (
    DomainError,
    DuplicateSubmission,
    InvalidQuantity,
    NotFound,
    NotMakeable,
)
from orders.lifecycle import Status
from orders.models import Order, OrderLine, ProductConfiguration, Role
from orders.queries.catalog import load_config, tiers, valid_quantity
from orders.queries.designs import finding_text, live_quote
from orders.shop import shop_numbers

MAX_IDEMPOTENCY_KEY = 128


@dataclass(frozen=True)
class LineRequest:
    configuration_id: int
    quantity: int
    tier: str = "standard"


@dataclass(frozen=True)
class PlaceResult:
    order: Order
    created: bool


def _check_quantity(qty: object) -> int:
    if not isinstance(qty, int) or not valid_quantity(qty):
        raise InvalidQuantity(qty, shop_numbers().max_line_quantity)
    return qty


def _request_hash(lines: Sequence[LineRequest]) -> str:
    body = [[ln.configuration_id, ln.quantity, ln.tier] for ln in lines]
    return hashlib.sha256(json.dumps(body, separators=(",", ":")).encode()).hexdigest()


def _existing(session: Session, customer_id: int, key: str, digest: str) -> Order | None:
    order = session.scalar(
        select(Order).where(Order.customer_id == customer_id, Order.idempotency_key == key)
    )
    if order is not None and order.request_sha256 != digest:
        raise DuplicateSubmission(
            f"idempotency key '{key}' was already used for a different order (#{order.id})",
            fields={"idempotency_key": "already used for different content"},
        )
    return order


def _validate(
    session: Session, customer_id: int, lines: Sequence[LineRequest], key: str, currency: str
) -> None:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise DomainError(
            "an idempotency key of 1 to 128 characters is required",
            fields={"idempotency_key": "required, at most 128 characters"},
        )
    if not lines:
        raise DomainError("an order needs at least one line", fields={"lines": "empty"})
    for i, line in enumerate(lines):
        _check_quantity(line.quantity)
        if line.tier not in tiers():
            raise DomainError(
                f"unknown lead-time tier '{line.tier}'",
                fields={f"lines[{i}].tier": f"one of {', '.join(tiers())}"},
            )
        row = session.get(ProductConfiguration, line.configuration_id)
        if row is None:
            raise NotFound(
                f"configuration {line.configuration_id} does not exist",
                fields={f"lines[{i}].configuration_id": "not found"},
            )
        _check_orderable(session, customer_id, i, row, line, currency)


@dataclass(frozen=True)
class _Customer:
    """The ordering customer as a viewer of their designs (quotes use what they may see)."""

    id: int
    role: str = Role.CUSTOMER


def _check_orderable(
    session: Session,
    customer_id: int,
    i: int,
    row: ProductConfiguration,
    line: LineRequest,
    currency: str,
) -> None:
    """The one orderability rule: some machine can make it, CAD measured nothing it cannot
    make (a Required DFM finding would only hold the order later), and a date can be promised."""
    lq = live_quote(
        session, load_config(row), line.quantity, line.tier, currency, viewer=_Customer(customer_id)
    )
    if lq.feasibility.ok and lq.blocking:
        why = "; ".join(f"{f.get('code')}: {finding_text(f)}" for f in lq.blocking)
        raise NotMakeable(
            f"line {i + 1} cannot be made as designed: {why}",
            fields={f"lines[{i}]": why},
        )
    if not lq.orderable:
        why = "; ".join(x.message for x in lq.feasibility.reasons) or "no ship date"
        raise DomainError(
            f"line {i + 1} cannot be made: {why}", fields={f"lines[{i}]": "not orderable"}
        )


def place_order(
    session: Session,
    customer_id: int,
    lines: Sequence[LineRequest],
    idempotency_key: str,
    actor: Actor,
    currency: str,
    payment: PaymentChoice | None = None,
) -> PlaceResult:
    """Create the order once per idempotency key; a repeat returns the first order unchanged.

    `payment`: the checkout's payment step (its terms decide when the order may go to CAD and
    production, `checkout_payment.may_produce`); None for orders placed by staff tools."""
    digest = _request_hash(lines)
    found = _existing(session, customer_id, idempotency_key, digest)
    if found is not None:
        return PlaceResult(found, created=False)
    _validate(session, customer_id, lines, idempotency_key, currency)
    try:
        with session.begin_nested():
            order = _create(
                session, customer_id, lines, idempotency_key, digest, actor, currency, payment
            )
    except IntegrityError:
        # A concurrent double click won the unique (customer, key) race: return its order.
        found = _existing(session, customer_id, idempotency_key, digest)
        if found is None:
            raise
        return PlaceResult(found, created=False)
    return PlaceResult(order, created=True)


def _create(
    session: Session,
    customer_id: int,
    lines: Sequence[LineRequest],
    key: str,
    digest: str,
    actor: Actor,
    currency: str,
    payment: PaymentChoice | None = None,
) -> Order:
    order = Order(
        customer_id=customer_id,
        idempotency_key=key,
        request_sha256=digest,
        status=Status.DRAFT,
        currency=currency,
        total=Decimal("0"),
    )
    session.add(order)
    session.flush()
    record_event(session, actor, "order", order.id, None, Status.DRAFT.value, {"key": key})
    total = Decimal("0")
    for req in lines:
        config = session.get_one(ProductConfiguration, req.configuration_id)
        quote = price_line(session, config, req.quantity, req.tier, customer_id, currency)
        line = OrderLine(
            configuration_id=config.id,
            quote_id=quote.id,
            quantity=req.quantity,
            tier=req.tier,
            unit_price=quote.unit_price,
            status=Status.DRAFT,
            promised_ship_date=quote.promised_ship_date,
        )
        order.lines.append(line)
        session.flush()
        record_event(session, actor, "order_line", line.id, None, Status.DRAFT.value)
        total += quote.total
    order.total = total
    placed: tuple[Order | OrderLine, ...] = (order, *order.lines)
    for obj in placed:
        transition(session, obj, Status.QUOTED, actor)
        transition(session, obj, Status.PLACED, actor)
    if payment is not None:
        choose_method(session, order, payment, actor)
    _request_cad(session, order)
    order_placed(session, order)
    return order


def _request_cad(session: Session, order: Order) -> None:
    """Ask for the order's CAD builds now, unless the one gate holds it until it is paid
    (`may_produce`; the payment that releases it asks then)."""
    if may_produce(session, order.id):
        request_cad(session, order)
